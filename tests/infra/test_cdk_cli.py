"""The README's deploy steps, as a new user runs them: the real CDK CLI (the pinned ``aws-cdk``,
through npx) synthesises the app from a clean shell, with no virtualenv active and nothing of
it on ``PATH``; cdk.json's ``app`` finds the project's venv by itself.

npx fetches the CLI once into its own cache (``~/.npm/_npx``); later runs take it from there
(``prefer-offline``), so the test needs the npm registry only the first time. One synth, about
15 s on two cores.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from infra import catalogue
from infra.project import PROJECT_ROOT
from tests.infra.template import Template

README = PROJECT_ROOT / "README.md"
MAKEFILE = PROJECT_ROOT / "Makefile"
CDK_JSON = PROJECT_ROOT / "cdk.json"
VENV_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"
# What a user's shell keeps: the rest of the test process's environment (the venv, AWS settings,
# the test's own variables) stays out.
KEPT = ("HOME", "USER", "LANG", "LC_ALL", "TMPDIR")
KEPT_PREFIXES = ("npm_config_", "NPM_CONFIG_")


def readme_deploy_section() -> str:
    text = README.read_text()
    start = text.index("## Deploying to AWS")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def pinned_cli_version() -> str:
    """The ``aws-cdk`` version the README's commands run (and the Makefile's, the same)."""
    versions = set(re.findall(r"npx --yes aws-cdk@(\d+\.\d+\.\d+)", readme_deploy_section()))
    assert len(versions) == 1, f"the README's deploy section pins one aws-cdk version, found {versions}"
    (version,) = versions
    make = re.search(r"^CDK_VERSION\s*:=\s*(\S+)", MAKEFILE.read_text(), re.MULTILINE)
    assert make and make.group(1) == version, "the Makefile's CDK_VERSION is the README's"
    return version


def clean_shell_env(tmp_path: Path) -> dict[str, str]:
    venv_bins = {str(PROJECT_ROOT / ".venv" / "bin")}
    if os.environ.get("VIRTUAL_ENV"):
        venv_bins.add(str(Path(os.environ["VIRTUAL_ENV"]) / "bin"))
    path = [entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry not in venv_bins]
    env = {
        key: value
        for key, value in os.environ.items()
        if key in KEPT or key.startswith(KEPT_PREFIXES) or key.lower().endswith("_proxy")
    }
    env.update(
        PATH=os.pathsep.join(path),
        # The CLI's own calls home, none of which a synth needs: notices, telemetry, version check.
        CDK_DISABLE_CLI_TELEMETRY="true",
        CDK_DISABLE_VERSION_CHECK="true",
        npm_config_prefer_offline="true",  # the cached CLI without asking the registry again
        npm_config_update_notifier="false",
        npm_config_fund="false",
        npm_config_audit="false",
        AWS_EC2_METADATA_DISABLED="true",  # no instance credentials lookup (none are needed)
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
    )
    return env


def test_readme_deploy_section_bootstraps_and_uses_the_venv():
    section = readme_deploy_section()
    version = pinned_cli_version()
    assert f"npx --yes aws-cdk@{version} bootstrap" in section
    assert f"npx --yes aws-cdk@{version} deploy" in section
    assert json.loads(CDK_JSON.read_text())["app"] == ".venv/bin/python app.py"
    # Make's targets run the same commands (and create the venv first).
    makefile = MAKEFILE.read_text()
    assert re.search(r"^bootstrap: \$\(STAMP\)\n\t\$\(CDK\) bootstrap$", makefile, re.MULTILINE)
    assert re.search(
        r"^deploy: \$\(STAMP\)\n\t\$\(CDK\) deploy -c stage=\$\(STAGE\)$", makefile, re.MULTILINE
    )


@pytest.mark.slow
@pytest.mark.timeout(600)  # the first run on a machine fetches the CLI
def test_the_pinned_cdk_cli_synthesises_from_a_clean_shell(tmp_path):
    npx = shutil.which("npx")
    if npx is None or shutil.which("node") is None:
        pytest.skip("npx/node are not installed: the README's deploy steps need Node.js")
    assert VENV_PYTHON.exists(), "cdk.json runs .venv/bin/python: make (any target) creates the venv"
    version = pinned_cli_version()
    outdir = tmp_path / "cdk.out"
    command = [npx, "--yes", f"aws-cdk@{version}", "synth", "-c", "stage=dev"]
    command += ["--output", str(outdir), "--quiet", "--no-notices"]
    result = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=clean_shell_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])
    template = Template(json.loads((outdir / "OpsStack.template.json").read_text()))
    functions = {
        res["Properties"].get("FunctionName") for res in template.of_type("AWS::Lambda::Function").values()
    }
    assert {catalogue.function_name("dev", spec.key) for spec in catalogue.FUNCTIONS} <= functions
    template.one("AWS::DynamoDB::Table", TableName="g3n-dev-ops")
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert manifest["artifacts"]["OpsStack"]["properties"]["stackName"] == "g3n-dev-ops"
    # Everything went to the CLI's output directory (app.py's own default is only for plain runs).
    assert (outdir / ".g3n-guard-layer" / "python" / "g3n_maintenance_guard" / "__init__.py").is_file()
