"""The read-only HTTP API: ping, stat and the maintenance reads, IAM-authorised (SigV4), served by
the ``api`` function (Lambda proxy, payload 2.0), with access logs and throttling."""

from __future__ import annotations

import json

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

ROUTES = ("/ping", "/stat", "/maintenance", "/maintenance/{id}")
THROTTLE = apigwv2.ThrottleSettings(rate_limit=20, burst_limit=40)  # an operator tool, not a storefront
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
            description="g3n OPS read-only API (ping, stat, maintenance reads)",
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
        for path in ROUTES:
            self.http_api.add_routes(
                path=path, methods=[apigwv2.HttpMethod.GET], integration=integration, authorizer=authorizer
            )
        self.url = self.http_api.api_endpoint
