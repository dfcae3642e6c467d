"""The maintenance audit trail: one JSON line per lifecycle action, kept after the stack is gone."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from g3n_ops import discovery

AUDIT_LOG_GROUP = f"{discovery.PREFIX}/maintenance-audit"  # the name settings.py defaults to


class MaintenanceAudit(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=AUDIT_LOG_GROUP,
            retention=logs.RetentionDays.ONE_YEAR,
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.log_group_name = AUDIT_LOG_GROUP
