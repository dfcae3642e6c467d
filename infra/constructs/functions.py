"""One Lambda function per entry of ``infra.catalogue.FUNCTIONS``, all from the ``lambdas/`` asset,
with Powertools (public layer), active tracing, an explicit log group and the environment that
``g3n_ops/settings.py`` reads."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra import catalogue
from infra.constructs.nag import suppress

# AWS publishes each Powertools release's layer ARN under this public SSM path; resolving it at
# deploy time gives exactly the release pyproject pins, with no layer number to keep in step.
POWERTOOLS_LAYER_PARAMETER = "/aws/service/powertools/python/x86_64/python3.11/{version}"
RUNTIME = lambda_.Runtime.PYTHON_3_11
ASSET_EXCLUDES = ["__pycache__", "*.pyc", "tests"]
LOG_RETENTION = logs.RetentionDays.ONE_MONTH

# The layer matching the Powertools the functions are tested with (read without importing it:
# the synth loads no Lambda code).
POWERTOOLS_VERSION = version("aws-lambda-powertools")


def powertools_layer_parameter() -> str:
    return POWERTOOLS_LAYER_PARAMETER.format(version=POWERTOOLS_VERSION)


def pascal(key: str) -> str:
    """``maintenance-steps`` → ``MaintenanceSteps`` (stable logical ids)."""
    return "".join(part.capitalize() for part in key.split("-"))


class OpsFunctions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        asset_root: Path,
        environment: dict[str, str],
        vacuum: bool,
        reserved_concurrency: Mapping[str, int] | None = None,
    ) -> None:
        """``reserved_concurrency``: function key → reserved concurrent executions (cdk.json's
        ``reservedConcurrency``); a function not listed reserves none."""
        super().__init__(scope, construct_id)
        powertools = lambda_.LayerVersion.from_layer_version_arn(
            self,
            "Powertools",
            ssm.StringParameter.value_for_string_parameter(self, powertools_layer_parameter()),
        )
        # One asset for all functions: handlers share the g3n_ops package.
        code = lambda_.Code.from_asset(str(asset_root), exclude=ASSET_EXCLUDES)
        self.by_key: dict[str, lambda_.Function] = {}
        for spec in catalogue.deployed_functions(vacuum=vacuum):
            name = catalogue.function_name(stage, spec.key)
            log_group = logs.LogGroup(
                self,
                f"{pascal(spec.key)}Logs",
                log_group_name=f"/aws/lambda/{name}",
                retention=LOG_RETENTION,
                # Operational logs go with the stack, so a re-created stack can reuse the name.
                removal_policy=RemovalPolicy.DESTROY,
            )
            # Our own role instead of AWSLambdaBasicExecutionRole (logs:* on every log group):
            # this function may write to its own log group only.
            role = iam.Role(
                self,
                f"{pascal(spec.key)}Role",
                description=f"g3n OPS {spec.key} function",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            )
            log_group.grant(role, "logs:CreateLogStream", "logs:PutLogEvents")
            function = lambda_.Function(
                self,
                pascal(spec.key),
                function_name=name,
                description=spec.description,
                runtime=RUNTIME,
                architecture=lambda_.Architecture.X86_64,  # the Powertools layer is x86_64
                handler=spec.handler,
                code=code,
                timeout=Duration.seconds(spec.timeout_seconds),
                memory_size=spec.memory_mb,
                layers=[powertools],
                tracing=lambda_.Tracing.ACTIVE,
                log_group=log_group,
                role=role,
                environment=dict(environment),
                reserved_concurrent_executions=(reserved_concurrency or {}).get(spec.key),
            )
            suppress(
                role,
                "IAM5",
                "X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions.",
                applies_to=["Resource::*"],
            )
            suppress(
                function,
                "L1",
                "Python 3.11 is the project's runtime (pyproject requires 3.11), matched by the Powertools "
                "python311 layer.",
            )
            self.by_key[spec.key] = function

    def __getitem__(self, key: str) -> lambda_.Function:
        return self.by_key[key]
