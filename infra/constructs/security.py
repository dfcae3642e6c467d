"""The alarm on secret-code lockouts: it fires when repeated wrong codes lock the secret-gated
operations (metric ``SecretLockout``, emitted by ``g3n_ops.domain.secret`` with Powertools'
``service`` dimension). Helper constructs that notify people can add actions to ``lockout_alarm``."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from g3n_ops.contract.metrics import NAMESPACE as METRICS_NAMESPACE
from g3n_ops.contract.metrics import SERVICE, Metric


def ops_metric(name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic="Sum",
        period=Duration.minutes(1),
    )


class SecretSecurity(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.lockout_alarm = cloudwatch.Alarm(
            self,
            "LockoutAlarm",
            alarm_name=f"g3n-{stage}-ops-secret-lockout",
            alarm_description=(
                "Repeated wrong OPS secret codes locked every secret-gated operation: someone may be "
                "guessing the code. See docs/playbooks.md, 'Secret code lockout'."
            ),
            metric=ops_metric(Metric.SECRET_LOCKOUT),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
