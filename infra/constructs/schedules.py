"""Recurring maintenance windows: one EventBridge Scheduler schedule per ``recurringMaintenance``
context entry, starting the maintenance state machine with a ``source: schedule`` input (the state
machine writes the record itself; no secret code is involved, IAM is the gate).

An entry may narrow its window like ``maintenance-schedule`` does: ``services`` (API service codes
from the registry, checked at synth) and ``allowMethods`` (e.g. ``["GET", "HEAD"]``: read-only
maintenance). There is no ``bypass``: nobody would see a token issued at 3 am; an operator who
needs one runs ``g3n ops maintenance-update --rotate-bypass`` once the window is active."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Aws
from aws_cdk import aws_iam as iam
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from g3n_ops.contract import maintenance
from infra.constructs.functions import pascal

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,40}$")


def api_service_codes(registry_file: Path) -> tuple[str, ...]:
    """The API service codes of the registry file (what a window's ``services`` may name)."""
    document = json.loads(Path(registry_file).read_text())
    return tuple(service["code"] for service in document["services"] if service.get("api"))


def _listed(entry: dict, key: str, name: str) -> list[str] | None:
    value = entry.get(key)
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(item, str) and item.strip() for item in value)
    ):
        raise ValueError(f"recurringMaintenance {name}: {key} must be a non-empty list of strings")
    return value


@dataclass(frozen=True)
class RecurringWindow:
    """One ``recurringMaintenance`` entry: ``{name, cron, description, duration, autoEnd}`` plus an
    optional ``timezone`` (IANA name, UTC by default)."""

    name: str
    cron: str
    description: str
    duration: int  # seconds
    auto_end: bool
    timezone: str = "UTC"
    services: tuple[str, ...] | None = None  # None: every API service
    allow_methods: tuple[str, ...] | None = None  # read-only maintenance

    @classmethod
    def from_context(cls, entry: dict, *, api_codes: Iterable[str] | None = None) -> RecurringWindow:
        missing = {"name", "cron", "description", "duration"} - entry.keys()
        if missing:
            raise ValueError(f"recurringMaintenance entry {entry!r} lacks {sorted(missing)}")
        name = str(entry["name"])
        if not NAME.match(name):
            raise ValueError(f"recurringMaintenance name {name!r}: use lowercase letters, digits and '-'")
        # The same bounds the lifecycle enforces when the window fires: refuse at synth, not at 2 am.
        duration = entry["duration"]
        low, high = maintenance.MIN_DURATION_SECONDS, maintenance.MAX_DURATION_SECONDS
        if isinstance(duration, bool) or not isinstance(duration, int) or not low <= duration <= high:
            raise ValueError(f"recurringMaintenance {name}: duration must be {low} to {high} seconds")
        description = str(entry["description"]).strip()
        if not 1 <= len(description) <= maintenance.MAX_DESCRIPTION_LENGTH:
            raise ValueError(
                f"recurringMaintenance {name}: description must be 1 to "
                f"{maintenance.MAX_DESCRIPTION_LENGTH} characters"
            )
        auto_end = entry.get("autoEnd", False)
        if not isinstance(auto_end, bool):
            raise ValueError(f"recurringMaintenance {name}: autoEnd must be true or false")
        cron = str(entry["cron"]).strip()
        if not cron.startswith(("cron(", "rate(", "at(")):
            cron = f"cron({cron})"  # accept the bare six-field expression too
        services = _listed(entry, "services", name)
        if services is not None and api_codes is not None:
            known = list(api_codes)
            unknown = sorted({code.strip().lower() for code in services} - set(known))
            if unknown:
                raise ValueError(
                    f"recurringMaintenance {name}: unknown service code(s) {', '.join(unknown)}; "
                    f"the known ones are {', '.join(known)}"
                )
            services = [code for code in known if code in {c.strip().lower() for c in services}]
        methods = _listed(entry, "allowMethods", name)
        if methods is not None:
            wanted = {method.strip().upper() for method in methods}
            if not wanted < set(maintenance.HTTP_METHODS):
                raise ValueError(
                    f"recurringMaintenance {name}: allowMethods must be some (not all) of "
                    f"{', '.join(maintenance.HTTP_METHODS)}"
                )
            methods = [method for method in maintenance.HTTP_METHODS if method in wanted]
        return cls(
            name=name,
            cron=cron,
            description=description,
            duration=duration,
            auto_end=auto_end,
            timezone=str(entry.get("timezone", "UTC")),
            services=tuple(services) if services else None,
            allow_methods=tuple(methods) if methods else None,
        )

    def execution_input(self) -> dict:
        narrowing = {"services": self.services, "allowMethods": self.allow_methods}
        return {
            "source": "schedule",
            "description": self.description,
            "duration": self.duration,
            "autoEnd": self.auto_end,
            **{key: list(value) for key, value in narrowing.items() if value},
        }


class RecurringMaintenance(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        windows: tuple[RecurringWindow, ...],
        state_machine: sfn.IStateMachine,
    ) -> None:
        super().__init__(scope, construct_id)
        self.schedules: list[scheduler.CfnSchedule] = []
        if not windows:
            return
        self.role = iam.Role(
            self,
            "SchedulerRole",
            description="EventBridge Scheduler: start g3n OPS maintenance windows",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
            ),
        )
        state_machine.grant_start_execution(self.role)
        for window in windows:
            self.schedules.append(
                scheduler.CfnSchedule(
                    self,
                    pascal(window.name),
                    name=f"g3n-{stage}-ops-maintenance-{window.name}",
                    description=window.description[:512],
                    schedule_expression=window.cron,
                    schedule_expression_timezone=window.timezone,
                    flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
                    target=scheduler.CfnSchedule.TargetProperty(
                        arn=state_machine.state_machine_arn,
                        role_arn=self.role.role_arn,
                        input=json.dumps(window.execution_input()),
                    ),
                )
            )
