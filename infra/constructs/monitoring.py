"""Monitoring: the events topic, the execution-status rule, the alarms and the dashboard.

- ``EventsTopic``: one SNS topic (KMS-encrypted with a key CloudWatch may use, TLS only) that
  carries every lifecycle event (``g3n_ops.notify``) and every alarm.
- ``OpsMonitoring``: an EventBridge rule on Step Functions "Execution Status Change" for OPS's
  state machines → the ``execution-status`` function (records closed at once); alarms on vacuum
  failures, failed or timed-out executions, the guard failing open and maintenance overrunning or
  not taking effect, all notifying the topic; one dashboard. Alarms and dashboard come from
  cdk-monitoring-constructs (``MonitoringFacade``), so the widgets and alarm naming are the
  library's, not hand-rolled.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from cdk_monitoring_constructs import (
    AlarmFactoryDefaults,
    CustomMetricGroup,
    CustomMetricWithAlarm,
    CustomThreshold,
    DefaultDashboardFactory,
    ErrorCountThreshold,
    MetricFactoryDefaults,
    MonitoringFacade,
    SnsAlarmActionStrategy,
)
from constructs import Construct

from g3n_ops.contract import events as ops_events
from g3n_ops.contract.metrics import GUARD_NAMESPACE, SERVICE, GuardMetric, Metric
from g3n_ops.contract.metrics import NAMESPACE as METRICS_NAMESPACE
from infra.constructs.access import WILDCARD_BELOW_NAMED_RESOURCE
from infra.constructs.functions import OpsFunctions
from infra.constructs.nag import suppress
from infra.constructs.state_machines import OpsStateMachines

# Guard fail-opens per service per 5 minutes above which someone should look: a blip (one cold
# container missing the table once) is fine; a steady stream means services run unguarded.
GUARD_FAIL_OPEN_THRESHOLD = 5
PERIOD = Duration.minutes(5)


class EventsTopic(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        # A customer-managed key: CloudWatch alarms cannot publish to a topic under aws/sns.
        self.key = kms.Key(
            self,
            "Key",
            description=f"g3n OPS ({stage}) lifecycle events and alarms topic",
            enable_key_rotation=True,
        )
        self.key.grant(
            iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*"
        )
        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=f"g3n-{stage}-ops-events",
            display_name=f"g3n OPS {stage} events",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=[self.topic.topic_arn],
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            )
        )


class OpsMonitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        topic: sns.ITopic,
        functions: OpsFunctions,
        state_machines: OpsStateMachines,
        api_service_codes: list[str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "ExecutionEnded",
            rule_name=f"g3n-{stage}-ops-execution-ended",
            description="OPS executions that ended FAILED, TIMED_OUT or ABORTED: close their records at once",
            event_pattern=events.EventPattern(
                source=[ops_events.EXECUTION_STATUS_SOURCE],
                detail_type=[ops_events.EXECUTION_STATUS_DETAIL_TYPE],
                detail={
                    "status": list(ops_events.EXECUTION_ENDED_OUTSIDE),
                    "stateMachineArn": [m.state_machine_arn for m in state_machines.by_key.values()],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    functions["execution-status"], retry_attempts=8, max_event_age=Duration.hours(2)
                )
            ],
        )

        facade = MonitoringFacade(
            self,
            "Facade",
            alarm_factory_defaults=AlarmFactoryDefaults(
                alarm_name_prefix=f"g3n-{stage}-ops",
                actions_enabled=True,
                action=SnsAlarmActionStrategy(on_alarm_topic=topic, on_ok_topic=topic),
                datapoints_to_alarm=1,
                evaluation_periods=1,
            ),
            metric_factory_defaults=MetricFactoryDefaults(namespace=METRICS_NAMESPACE, period=PERIOD),
            dashboard_factory=DefaultDashboardFactory(
                self,
                "Dashboards",
                dashboard_name_prefix=f"g3n-{stage}-ops",
                create_dashboard=True,
                create_summary_dashboard=False,
                create_alarm_dashboard=False,
            ),
        )
        facade.add_large_header(f"g3n OPS ({stage}): maintenance, vacuum and the guard")
        for key, machine in state_machines.by_key.items():
            facade.monitor_step_function(
                state_machine=machine,
                human_readable_name=f"{key} state machine",
                alarm_friendly_name=f"{key}-executions",
                add_failed_execution_count_alarm={"Failed": ErrorCountThreshold(max_error_count=0)},
                add_timed_out_execution_count_alarm={"TimedOut": ErrorCountThreshold(max_error_count=0)},
            )
        facade.monitor_custom(
            human_readable_name="Vacuum",
            alarm_friendly_name="vacuum",
            metric_groups=[
                CustomMetricGroup(
                    title="Vacuum runs",
                    metrics=[
                        _alarm(
                            Metric.VACUUM_FAILED,
                            "Vacuum failed: read vacuum-events for the reason, resume it",
                        ),
                        _ops_metric("VacuumRequested"),
                        _ops_metric("VacuumCompleted"),
                        _ops_metric("VacuumCancelled"),
                    ],
                ),
            ],
        )
        facade.monitor_custom(
            human_readable_name="Maintenance",
            alarm_friendly_name="maintenance",
            metric_groups=[
                CustomMetricGroup(
                    title="Maintenance lifecycle",
                    metrics=[
                        _alarm(
                            Metric.MAINTENANCE_OVERRUNNING,
                            "A window is past its expected end: end or extend it",
                        ),
                        _alarm(
                            Metric.MAINTENANCE_NOT_EFFECTIVE,
                            "A service did not answer 503 after a window started",
                        ),
                        _ops_metric("MaintenanceSchedule"),
                        _ops_metric("MaintenanceStart"),
                        _ops_metric("MaintenanceEnd"),
                        _ops_metric("MaintenanceCancel"),
                    ],
                ),
                CustomMetricGroup(
                    title="Step callers",
                    metrics=[
                        _alarm(
                            Metric.STEP_CALLER_REFUSED,
                            "A state machine step was invoked by something other than its execution: "
                            "read the audit (step-caller-refused) and who may invoke the steps functions",
                        )
                    ],
                ),
                CustomMetricGroup(
                    title="Notifications",
                    metrics=[
                        _ops_metric(Metric.NOTIFICATION_FAILED),
                        _ops_metric(Metric.EXECUTION_ENDED_OUTSIDE_OPS),
                    ],
                ),
            ],
        )
        facade.monitor_custom(
            human_readable_name="Maintenance guard (fail-open per service)",
            alarm_friendly_name="guard",
            metric_groups=[
                CustomMetricGroup(
                    title="Guard fail-open",
                    metrics=[
                        CustomMetricWithAlarm(
                            metric=_guard_metric(code),
                            alarm_friendly_name=f"fail-open-{code}",
                            add_alarm={
                                "Critical": CustomThreshold(
                                    threshold=GUARD_FAIL_OPEN_THRESHOLD,
                                    comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                                    treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                                    additional_description=f"The {code} service's maintenance guard fails "
                                    "open: it cannot read the maintenance state",
                                )
                            },
                        )
                        for code in api_service_codes
                    ],
                )
            ],
        )
        self.facade = facade
        self.alarms = facade.created_alarms()


def _ops_metric(name: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": SERVICE},
        statistic="Sum",
        period=PERIOD,
        label=name,
    )


def _guard_metric(code: str) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=GUARD_NAMESPACE,
        metric_name=GuardMetric.FAIL_OPEN,
        dimensions_map={"service": code},
        statistic="Sum",
        period=PERIOD,
        label=code,
    )


def _alarm(name: str, description: str) -> CustomMetricWithAlarm:
    return CustomMetricWithAlarm(
        metric=_ops_metric(name),
        alarm_friendly_name=name,
        add_alarm={
            "Critical": CustomThreshold(
                threshold=0,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data_override=cloudwatch.TreatMissingData.NOT_BREACHING,
                additional_description=description,
            )
        },
    )


def grant_publishing(events: EventsTopic, functions: OpsFunctions) -> None:
    """Every function that writes an audit (all but the read API) may publish lifecycle events:
    sns:Publish on the topic and, for its encryption, GenerateDataKey + Decrypt on the topic's key
    (named exactly: no action wildcard, which ``Topic.grant_publish`` would add)."""
    for key, function in functions.by_key.items():
        if key == "api":  # the read API writes no audit, so publishes nothing (bench/iam_unused_grants.py)
            continue
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[events.topic.topic_arn])
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[events.key.key_arn]
            )
        )


def grant_execution_status_access(
    function, *, audit_log_group, audit_actions: tuple[str, ...], execution_arns: list[str]
) -> None:
    """The execution-status function reads and closes records (vacuum: the mutex too; its OPS-table
    keys are in infra/table_access.py) and writes the maintenance audit; it starts and stops nothing.
    It describes the execution an event names: the event is where to look, not proof."""
    audit_log_group.grant(function, *audit_actions)
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["states:DescribeExecution"], resources=execution_arns)
    )
    suppress(
        function.role,
        "IAM5",
        "Wildcards only below named resources: the OPS table's indexes (listing the newest records) "
        "and the maintenance audit log group's streams.",
        applies_to=[WILDCARD_BELOW_NAMED_RESOURCE],
    )
