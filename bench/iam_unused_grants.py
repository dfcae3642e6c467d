"""Least privilege, measured: which of each function's deployed grants nothing ever used.

Runs the test suite on the embedded local stack with IAM enforced (``pytest -n 3``) and every
stack writing what its principals used (``G3N_IAM_USAGE_DIR``); merges the processes' reports;
and lists, per function, every grant (policy, action, resource, condition) that allowed no call
of the whole suite. A grant left unused must be removed or carry a reason in
``infra/constructs/access.py`` (``GRANTS_NOT_USED_BY_CODE``): the report says which have one,
and exits non-zero if any has none.

Usage: .venv/bin/python bench/iam_unused_grants.py [--from DIR] [--json] [pytest args...]
  --from DIR  merge the usage files already in DIR (a run with G3N_IAM_USAGE_DIR=DIR) instead
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from g3n_ops_client.local.iam.policy import wildcard_match  # noqa: E402
from infra.constructs.access import GRANTS_NOT_USED_BY_CODE  # noqa: E402


def merge(folder: str) -> tuple[dict[str, set[tuple]], dict[str, set[tuple]], set[str]]:
    grants: dict[str, set[tuple]] = {}
    used: dict[str, set[tuple]] = {}
    refused: set[str] = set()
    files = glob.glob(os.path.join(folder, "usage-*.json"))
    if not files:
        raise SystemExit(f"no usage files in {folder}")
    for path in files:
        document = json.loads(Path(path).read_text())
        for name, entries in document["grants"].items():
            grants.setdefault(name, set()).update(map(tuple, entries))
        for name, entries in document["used"].items():
            used.setdefault(name, set()).update(map(tuple, entries))
        refused.update(document.get("refused", []))
    return grants, used, refused


def reason_for(function: str, action: str, resource: str) -> str | None:
    key = function.rsplit("-ops-", 1)[-1]
    for functions, action_pattern, resource_pattern, reason in GRANTS_NOT_USED_BY_CODE:
        if (
            any(wildcard_match(pattern, key) for pattern in functions)
            and wildcard_match(action_pattern, action, ignore_case=True)
            and wildcard_match(resource_pattern, resource)
        ):
            return reason
    return None


def report(folder: str) -> dict:
    grants, used, refused = merge(folder)
    result: dict = {"functions": {}, "refused": sorted(refused)}
    for name in sorted(grants):
        if "-ops-" not in name:  # the documented operator identities: not the deploy's grants
            continue
        unused = sorted(grants[name] - used.get(name, set()))
        result["functions"][name] = [
            {
                "policy": source,
                "action": action,
                "resource": resource,
                "condition": json.loads(condition),
                "reason": reason_for(name, action, resource),
            }
            for source, action, resource, condition in unused
        ]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--from", dest="folder", help="merge existing usage files instead of running the suite"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    options, pytest_args = parser.parse_known_args()
    folder = options.folder
    if folder is None:
        folder = tempfile.mkdtemp(prefix="g3n-iam-usage-")
        environment = {**os.environ, "G3N_IAM_USAGE_DIR": folder, "G3N_OPS_LOCAL_IAM": "enforce"}
        command = [sys.executable, "-m", "pytest", "-n", "3", "--dist", "loadfile", "-q", *pytest_args]
        done = subprocess.run(command, cwd=ROOT, env=environment, check=False)
        if done.returncode != 0:
            print(f"the suite failed (exit {done.returncode}); the report covers what ran", file=sys.stderr)
    result = report(folder)
    if options.json:
        print(json.dumps(result, indent=2))
    else:
        for name, unused in result["functions"].items():
            print(f"{name}: {len(unused)} grant(s) never used")
            for grant in unused:
                why = grant["reason"] or "NO REASON: remove it or say why in GRANTS_NOT_USED_BY_CODE"
                condition = f" {grant['condition']}" if grant["condition"] else ""
                print(f"  {grant['action']} on {grant['resource']}{condition}\n      {why}")
        if result["refused"]:
            count = len(result["refused"])
            print(f"\n{count} call(s) refused during the run (those tests cause on purpose included):")
            for message in result["refused"]:
                print(f"  {message}")
    unreasoned = [g for unused in result["functions"].values() for g in unused if not g["reason"]]
    return 1 if unreasoned else 0


if __name__ == "__main__":
    sys.exit(main())
