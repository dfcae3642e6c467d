"""The read-only HTTP API, served by the ``api`` function (Lambda proxy, payload 2.0), with access
logs and throttling: the operator routes (ping, stat, maintenance reads) IAM-authorised (SigV4),
the public status page and the OpenAPI document open to anyone, each with its own throttle.

The routes are the OpenAPI contract's (``g3n_ops.handlers.api.contract``): a path is deployed, and
signed or public, exactly as the contract says."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.nag import suppress

OPENAPI_DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
THROTTLE = apigwv2.ThrottleSettings(rate_limit=20, burst_limit=40)  # an operator tool, not a storefront
# Public routes, each throttled on its own (route settings), so a crowd on the status page during a
# window can neither starve the operators' routes nor run up the function without bound. The page
# is needed most exactly when customers' requests answer 503, hence its larger share.
PUBLIC_THROTTLE = {
    "/status": apigwv2.ThrottleSettings(rate_limit=50, burst_limit=100),
    "/openapi.json": apigwv2.ThrottleSettings(rate_limit=5, burst_limit=10),
}
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "time": "$context.requestTime",
    "caller": "$context.identity.userArn",
    "sourceIp": "$context.identity.sourceIp",
    "method": "$context.httpMethod",
    "route": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "latencyMs": "$context.responseLatency",
    "integrationError": "$context.integrationErrorMessage",
}


@dataclass(frozen=True)
class ContractRoute:
    path: str
    signed: bool  # IAM (SigV4) authorised; otherwise public


def contract_routes() -> list[ContractRoute]:
    """Every path of the OpenAPI contract (all ``GET``), signed when the contract names security.
    Read from docs/openapi.json, which a test holds equal to what the API function serves."""
    paths = json.loads(OPENAPI_DOCUMENT.read_text())["paths"]
    return [ContractRoute(path, bool(item["get"].get("security"))) for path, item in paths.items()]


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    def __init__(self, log_group: logs.ILogGroup) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigateway.AccessLogFormat:
        return apigateway.AccessLogFormat.custom(json.dumps(ACCESS_LOG_FORMAT))


class OpsApi(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, stage: str, handler: lambda_.IFunction
    ) -> None:
        super().__init__(scope, construct_id)
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=f"g3n-{stage}-ops",
            description="g3n OPS read-only API (ping, stat, maintenance reads) and public status page",
            create_default_stage=False,  # the stage below adds access logs and throttling
        )
        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            log_group_name=f"/aws/apigateway/g3n-{stage}-ops-api",
            retention=logs.RetentionDays.THREE_MONTHS,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=_AccessLogSettings(access_logs),
            throttle=THROTTLE,
        )
        integration = integrations.HttpLambdaIntegration(
            "Api", handler, payload_format_version=apigwv2.PayloadFormatVersion.VERSION_2_0
        )
        authorizer = authorizers.HttpIamAuthorizer()
        route_settings = {}
        for route in contract_routes():
            if route.signed:
                self.http_api.add_routes(
                    path=route.path,
                    methods=[apigwv2.HttpMethod.GET],
                    integration=integration,
                    authorizer=authorizer,
                )
                continue
            if route.path not in PUBLIC_THROTTLE:
                raise ValueError(f"public route {route.path} has no throttle in PUBLIC_THROTTLE")
            (public,) = self.http_api.add_routes(
                path=route.path,
                methods=[apigwv2.HttpMethod.GET],
                integration=integration,
                authorizer=apigwv2.HttpNoneAuthorizer(),
            )
            suppress(
                public,
                "APIG4",
                f"GET {route.path} is public by design (the status page for customers meeting a "
                "maintenance window, or the API's own contract); it serves no operator data and is "
                "throttled on its own.",
            )
            throttle = PUBLIC_THROTTLE[route.path]
            route_settings[f"GET {route.path}"] = {
                "ThrottlingRateLimit": throttle.rate_limit,
                "ThrottlingBurstLimit": throttle.burst_limit,
            }
            self.stage.node.add_dependency(public)  # route settings name routes that must exist
        self.stage.node.default_child.add_property_override("RouteSettings", route_settings)
        self.url = self.http_api.api_endpoint
        # The public page the maintenance guard's 503s point to.
        self.status_url = f"{self.url}/status"
