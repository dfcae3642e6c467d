"""What the 14 platform services adopt: the maintenance guard as a Lambda layer, and a managed
policy that lets them read the one maintenance state item (and nothing else) in the OPS table.

Both ARNs are published as SSM parameters (``/g3nretailstack/ops/guard/layer-arn`` and
``…/guard/read-policy-arn``, scoped to the stage like every discovery name), not as
CloudFormation exports: the layer's ARN changes with every guard edit, and an export that another
stack imports cannot change (``export in use``), which would block OPS's next update. A service
resolves the parameter when it deploys and picks up the new version on its next deploy."""

from __future__ import annotations

import shutil
from pathlib import Path

from aws_cdk import Stage
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from g3n_ops.contract import discovery
from g3n_ops.contract.keys import MAINTENANCE_STATE_PK
from infra.constructs.functions import RUNTIME

PACKAGE = "g3n_maintenance_guard"
STAGING_DIR = ".g3n-guard-layer"  # inside the cloud assembly directory (cdk.out)


def stage_layer_content(package_dir: Path, outdir: Path) -> Path:
    """Copy ``package_dir`` to ``<outdir>/.g3n-guard-layer/python/<package>``: Lambda puts a
    layer's ``python/`` on ``sys.path``. Plain copy, because no Docker bundling is available."""
    if not (package_dir / "__init__.py").is_file():
        raise FileNotFoundError(f"the maintenance guard package is missing: {package_dir}/__init__.py")
    root = outdir / STAGING_DIR
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(
        package_dir,
        root / "python" / PACKAGE,
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"),
    )
    return root


class MaintenanceGuard(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        package_dir: Path,
        table: dynamodb.ITable,
        status_url: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        # What an adopting function sets (a service in this app can pass it straight through;
        # one elsewhere sets the same from the stack's outputs: OpsTableName, ApiUrl + "/status").
        self.environment = {"G3N_OPS_TABLE_NAME": table.table_name}
        if status_url:
            self.environment["G3N_OPS_STATUS_URL"] = status_url
        content = stage_layer_content(package_dir, Path(Stage.of(self).outdir))
        self.layer = lambda_.LayerVersion(
            self,
            "Layer",
            layer_version_name=f"g3n-{stage}-maintenance-guard",
            description="g3n maintenance guard: 503 while OPS maintenance is active (fails open)",
            code=lambda_.Code.from_asset(str(content)),
            compatible_runtimes=[RUNTIME],
        )
        self.read_policy = iam.ManagedPolicy(
            self,
            "ReadPolicy",
            managed_policy_name=f"g3n-{stage}-ops-maintenance-guard-read",
            description="Read the g3n OPS maintenance state item (for the maintenance guard)",
            statements=[
                iam.PolicyStatement(
                    actions=["dynamodb:GetItem"],
                    resources=[table.table_arn],
                    # Only the state item: the secret hash and the records stay out of reach.
                    conditions={
                        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [MAINTENANCE_STATE_PK]}
                    },
                )
            ],
        )
        self.layer_arn_parameter = ssm.StringParameter(
            self,
            "LayerArnParameter",
            parameter_name=discovery.scoped(discovery.GUARD_LAYER_ARN, stage),
            description="g3n maintenance guard: the current layer version's ARN (for the services)",
            string_value=self.layer.layer_version_arn,
        )
        self.read_policy_arn_parameter = ssm.StringParameter(
            self,
            "ReadPolicyArnParameter",
            parameter_name=discovery.scoped(discovery.GUARD_READ_POLICY_ARN, stage),
            description="g3n maintenance guard: the managed policy a guarded function needs",
            string_value=self.read_policy.managed_policy_arn,
        )
