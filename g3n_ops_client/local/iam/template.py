"""The functions' IAM as deployed: ``OpsStack`` synthesised (the same ``infra.stack.build_app``
the deploy runs, for the local stack's stage with vacuum on), each function role's statements
taken from it (its inline and managed policies) and every intrinsic resolved to the local ARNs.

A synth costs ~10-15 s (a Node jsii process), so it runs once, in a subprocess, and its template
(with the functions' asset folder, which ``tests/e2e/test_lambda_runtime.py`` runs) is cached on
disk keyed by a hash of what can change them (``infra/``, ``workflows/``, ``lambdas/``,
``cdk.json``, the CDK version): every later start (each test worker, each ``g3n ops local up``)
reads the cache.
A file lock keeps parallel workers from synthesising at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from g3n_ops_client.local.iam.policy import Statement, statements_of

PROJECT_ROOT = Path(__file__).resolve().parents[3]
CACHE_ENV = "G3N_OPS_CACHE_DIR"


class SynthUnavailable(RuntimeError):
    """The template cannot be synthesised here (no CDK installed, or the synth failed)."""


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_ENV)
    base = Path(configured) if configured else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return (base if configured else base / "g3n-ops") / "synth"


def _inputs_hash(context: dict) -> str:
    digest = hashlib.sha256(json.dumps(context, sort_keys=True).encode())
    files = [PROJECT_ROOT / "cdk.json"]
    patterns = (("infra", "**/*.py"), ("infra", "**/*.json"), ("workflows", "*.json"), ("lambdas", "**/*"))
    for folder, pattern in patterns:
        files.extend(sorted((PROJECT_ROOT / folder).glob(pattern)))
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
            digest.update(path.read_bytes())
    for package in ("aws-cdk-lib", "cdk-nag", "cdk-monitoring-constructs"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            digest.update(f"{package}=={metadata.version(package)}".encode())
    return digest.hexdigest()[:24]


def local_context(stage: str) -> dict:
    """The context the local stack is synthesised with: its stage, vacuum on, no schedules."""
    return {"stage": stage, "vacuumStages": [stage], "protectedStages": [], "protectedAccounts": [],
            "recurringMaintenance": []}  # fmt: skip


def synthesised(stage: str) -> Path:
    """A folder with OpsStack's template for ``stage`` (``template.json``) and the functions'
    asset as synthesised (``asset/``): from the cache, or synthesised now and cached."""
    context = local_context(stage)
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ops-{stage}-{_inputs_hash(context)}"
    if (path / "template.json").exists():
        return path
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be synthesising the same
        if not (path / "template.json").exists():
            _synthesise(context, path)
    return path


def synthesised_template(stage: str) -> dict:
    """OpsStack's template for ``stage``."""
    return json.loads((synthesised(stage) / "template.json").read_text())


def _synthesise(context: dict, path: Path) -> None:
    try:
        import aws_cdk  # noqa: F401
    except ImportError:
        raise SynthUnavailable(
            "IAM enforcement reads the functions' policies from the synthesised stack, which needs the "
            "CDK (pip install 'g3n-ops[cdk]' and Node.js); or start the stack with --iam off"
        ) from None
    code = (
        "import json, shutil, sys, tempfile\n"
        "from infra.stack import build_app\n"
        "context, target = json.loads(sys.argv[1]), sys.argv[2]\n"
        "with tempfile.TemporaryDirectory() as out:\n"
        "    app, stack = build_app(context, outdir=out, nag=False)\n"
        "    app.synth()\n"
        "    template = json.load(open(f'{out}/{stack.artifact_id}.template.json'))\n"
        "    keys = {r['Properties']['Code'].get('S3Key') for r in template['Resources'].values()\n"
        "            if r['Type'] == 'AWS::Lambda::Function' and 'FunctionName' in r['Properties']}\n"
        "    (key,) = keys\n"
        "    shutil.copytree(f'{out}/asset.{key.removesuffix(\".zip\")}', f'{target}/asset')\n"
        "    json.dump(template, open(f'{target}/template.json', 'w'))\n"
    )
    environment = {**os.environ, "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}
    environment.pop("AWS_ENDPOINT_URL", None)
    staging = path.with_name(path.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(context), str(staging)],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise SynthUnavailable(f"synthesising OpsStack failed:\n{done.stderr[-3000:]}")
    os.replace(staging, path)


class Resolver:
    """CloudFormation intrinsics → the values they take on the local stack."""

    def __init__(self, template: dict, *, account: str, region: str, partition: str = "aws") -> None:
        self.resources: dict[str, dict] = template["Resources"]
        self.pseudo = {"AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": partition,
                       "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "local"}  # fmt: skip
        self.account, self.region, self.partition = account, region, partition

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self.ref(argument)
            if function == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical_id, attribute)
            if function == "Fn::Join":
                separator, parts = argument
                return separator.join(str(self(part)) for part in parts)
            if function == "Fn::Sub":
                return self.sub(argument)
            if function == "Fn::Select":
                index, items = argument
                return self(items)[int(index)]
            if function.startswith("Fn::"):
                raise ValueError(f"intrinsic {function} is not resolved by the local stack")
        return {key: self(inner) for key, inner in value.items()}

    def sub(self, argument) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        out, index = [], 0
        while (start := text.find("${", index)) >= 0:
            end = text.index("}", start)
            out.append(text[index:start])
            name = text[start + 2 : end]
            if name in variables:
                out.append(str(self(variables[name])))
            elif "." in name:
                out.append(str(self.get_att(*name.split(".", 1))))
            else:
                out.append(str(self.ref(name)))
            index = end + 1
        out.append(text[index:])
        return "".join(out)

    def _props(self, logical_id: str) -> tuple[str, dict]:
        resource = self.resources[logical_id]
        return resource["Type"], resource.get("Properties", {})

    def ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        kind, props = self._props(name)
        if kind == "AWS::SNS::Topic":
            return f"arn:{self.partition}:sns:{self.region}:{self.account}:{props['TopicName']}"
        if kind == "AWS::StepFunctions::StateMachine":
            return self.get_att(name, "Arn")
        by_kind = {"AWS::DynamoDB::Table": "TableName", "AWS::SSM::Parameter": "Name",
                   "AWS::Logs::LogGroup": "LogGroupName", "AWS::Lambda::Function": "FunctionName",
                   "AWS::IAM::Role": "RoleName"}  # fmt: skip
        if kind in by_kind and by_kind[kind] in props:
            return self(props[by_kind[kind]])
        return name  # a resource without a set name (a KMS key, a role): its logical id stands in

    def get_att(self, logical_id: str, attribute: str) -> str:
        kind, props = self._props(logical_id)
        at = f"{self.region}:{self.account}"
        if attribute == "Arn":
            if kind == "AWS::DynamoDB::Table":
                return f"arn:{self.partition}:dynamodb:{at}:table/{self.ref(logical_id)}"
            if kind == "AWS::Logs::LogGroup":
                return f"arn:{self.partition}:logs:{at}:log-group:{self.ref(logical_id)}:*"
            if kind == "AWS::Lambda::Function":
                return f"arn:{self.partition}:lambda:{at}:function:{self.ref(logical_id)}"
            if kind == "AWS::StepFunctions::StateMachine":
                return f"arn:{self.partition}:states:{at}:stateMachine:{self(props['StateMachineName'])}"
            if kind == "AWS::KMS::Key":
                return f"arn:{self.partition}:kms:{at}:key/{logical_id}"
            if kind == "AWS::IAM::Role":
                return f"arn:{self.partition}:iam::{self.account}:role/{self.ref(logical_id)}"
            if kind == "AWS::SNS::Topic":
                return self.ref(logical_id)
        raise ValueError(f"Fn::GetAtt {logical_id}.{attribute} ({kind}) is not resolved by the local stack")


def function_statements(template: dict, *, account: str, region: str) -> dict[str, list[Statement]]:
    """Each function's (by name) identity policy statements, resolved: its role's inline policies
    (``AWS::IAM::Policy`` and the role's own ``Policies``) and the managed policies naming it."""
    resolve = Resolver(template, account=account, region=region)
    resources = template["Resources"]
    by_role: dict[str, list[Statement]] = {}
    for logical_id, resource in resources.items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                document = resolve(policy["PolicyDocument"])
                by_role.setdefault(logical_id, []).extend(statements_of(document, source=logical_id))
            if props.get("ManagedPolicyArns"):
                raise ValueError(f"{logical_id}: managed policy ARNs are not resolved by the local stack")
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            document = resolve(props["PolicyDocument"])
            for role in props.get("Roles", []):
                by_role.setdefault(role["Ref"], []).extend(statements_of(document, source=logical_id))
    functions = {}
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function" and "FunctionName" in props:
            role = props["Role"]["Fn::GetAtt"][0]
            functions[resolve(props["FunctionName"])] = by_role.get(role, [])
    return functions
