"""The maintenance audit trail: one JSON line per lifecycle action, kept after the stack is gone."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct

from g3n_ops.contract import discovery

# The default stage's name (the one settings.py defaults to); other stages: discovery.audit_log_group.
AUDIT_LOG_GROUP = discovery.MAINTENANCE_AUDIT_LOG_GROUP


class MaintenanceAudit(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str) -> None:
        super().__init__(scope, construct_id)
        self.log_group_name = discovery.audit_log_group(stage)  # one per stage in an account
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=self.log_group_name,
            retention=logs.RetentionDays.ONE_YEAR,
            # Kept when the stack is deleted or the group replaced, but removed when the stack's
            # first create rolls back, so that a retried first deploy can create it again.
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
