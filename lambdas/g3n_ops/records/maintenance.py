"""The maintenance window record, typed, and the conditions every write on it is made under.

The store reads an item into :class:`MaintenanceRecord` and writes from it; the domain reads and
changes attributes (``record.status``, ``record.expected_end``), never string keys. Attributes are
snake_case, the stored (and shown) names camelCase, as they always were.

Absent and null are different things here, and both are kept: a new record holds every field it
will ever show, most of them null until they happen (``startedAt``, ``effectiveAt``…), while the
fields only some windows get (``othersUnaffected``, ``collateral``, ``collateralAt``,
``timerStopped``) are absent until written. :meth:`MaintenanceRecord.document` shows exactly the
fields that are set, in the order the stored item had them (fields set since come last), so the
public document is what it was when the store handed out the item itself.

``WRITTEN_UNDER`` is the one place that says what each write is conditional on (the store builds
its ConditionExpression from it): the status the record must still have, whether the version as
read must still hold (the write then bumps it), attributes that must still be absent, and the
condition on the state item the guard reads when the write changes it in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import ConfigDict, Field, TypeAdapter

from g3n_ops.contract.statuses import MaintenanceStatus
from g3n_ops.records.base import Part, StoredRecord


class _Part(Part):
    model_config = ConfigDict(frozen=True)


class LatestUpdate(_Part):
    """The latest update, as the guard's 503 body and ping carry it."""

    text: str
    at: str


class UpdateEntry(_Part):
    """One posted update (``updates``)."""

    text: str
    at: str
    source: str
    actor: str | None


class HistoryEntry(_Part):
    """One transition (``history``): the action, the statuses it went from and to, who and when."""

    action: str
    from_status: MaintenanceStatus | None = Field(alias="from")
    to: MaintenanceStatus
    at: str
    source: str
    actor: str | None
    message: str | None


class MaintenanceRecord(StoredRecord):
    """A maintenance window (docs/recap.md#the-maintenance-record). Immutable: a change is a new
    record (``model_copy(update=...)``) and a conditional write (store.maintenance.Change)."""

    model_config = ConfigDict(frozen=True)

    maintenance_id: str
    status: MaintenanceStatus
    description: str
    start: str
    duration: int
    auto_end: bool = False
    services: list[str] | None = None  # None: every API service
    allow_methods: list[str] | None = None  # None: every method answers 503
    bypass: bool = False
    bypass_sha256: str | None = None  # never shown by a read (domain.maintenance.rules.shown)
    overrunning: bool = False
    created_at: str
    source: str | None = None
    actor: str | None = None
    execution_arn: str | None = None
    started_at: str | None = None
    expected_end: str | None = None
    ended_at: str | None = None
    cancelled_at: str | None = None
    end_message: str | None = None
    latest_update: LatestUpdate | None = None
    # What the probes prove after the start and after the end (domain.maintenance_effect).
    effective_at: dict[str, str] | None = None
    all_blocked_at: str | None = None
    not_effective: list[str] | None = None
    recovered_at: dict[str, str] | None = None
    all_recovered_at: str | None = None
    not_recovered: list[str] | None = None
    updates: list[UpdateEntry] = Field(default_factory=list)
    history: list[HistoryEntry] = Field(default_factory=list)
    version: int
    # Absent until written: only a scoped window's probes, or a lost timer, set these.
    others_unaffected: str | None = None
    collateral: list[str] | None = None
    collateral_at: dict[str, str] | None = None
    timer_stopped: bool | None = None

    def changed(self, **fields: Any) -> MaintenanceRecord:
        """This record with ``fields`` (attributes) changed, each checked against its type."""
        checked = {}
        for attribute, value in fields.items():
            stored_name(attribute)
            checked[attribute] = _adapter(attribute).validate_python(value)
        return self.model_copy(update=checked)


# -- the conditions every write is made under ---------------------------------------------------
class Transition(StrEnum):
    CREATE = "create"
    START = "start"
    UPDATE = "update"  # a posted update and/or a rotated bypass
    OVERRUN = "overrun"
    END = "end"  # by hand or automatically
    CANCEL = "cancel"
    TIMER_STOPPED = "timer-stopped"
    SET_TIMER = "set-timer"  # the execution timing the window (a hand-over replaces it)
    ADOPT_TIMER = "adopt-timer"  # the execution's first step: only if none is recorded yet
    PROBE_BLOCKED = "probe-blocked"  # what the probes saw after the start
    PROBE_RECOVERED = "probe-recovered"  # ... and after the end


class StateRule(StrEnum):
    """The condition on the guard's state item, written in the same transaction."""

    INACTIVE = "inactive"  # no window is active (at most one ever is)
    OWNED = "owned"  # this window is the active one


@dataclass(frozen=True)
class WrittenUnder:
    """What one write is conditional on. A write on a record that must exist but names no status
    is conditional on the record existing."""

    status: MaintenanceStatus | None = None  # the status the record must still have
    version: bool = False  # the version as read must still hold; the write bumps it
    unset: tuple[str, ...] = ()  # attributes that must still be absent or null
    new: bool = False  # the record must not exist yet
    state: StateRule | None = None


_SCHEDULED, _ACTIVE, _ENDED = MaintenanceStatus.SCHEDULED, MaintenanceStatus.ACTIVE, MaintenanceStatus.ENDED

# Transitions are optimistic (status and version as read: a concurrent change, say an update racing
# an overrun flag, makes the later writer read again and decide again). Probe observations and the
# timer's ARN take no version, so they never make a transition re-read, and transitions never
# touch them.
WRITTEN_UNDER: dict[Transition, WrittenUnder] = {
    Transition.CREATE: WrittenUnder(new=True),
    Transition.START: WrittenUnder(_SCHEDULED, version=True, state=StateRule.INACTIVE),
    Transition.UPDATE: WrittenUnder(_ACTIVE, version=True, state=StateRule.OWNED),
    Transition.OVERRUN: WrittenUnder(_ACTIVE, version=True, state=StateRule.OWNED),
    Transition.END: WrittenUnder(_ACTIVE, version=True, state=StateRule.OWNED),
    Transition.CANCEL: WrittenUnder(_SCHEDULED, version=True),
    Transition.TIMER_STOPPED: WrittenUnder(_ACTIVE, version=True),
    Transition.SET_TIMER: WrittenUnder(),
    Transition.ADOPT_TIMER: WrittenUnder(unset=("execution_arn",)),
    Transition.PROBE_BLOCKED: WrittenUnder(_ACTIVE),
    Transition.PROBE_RECOVERED: WrittenUnder(_ENDED),
}


# -- attributes as stored -------------------------------------------------------------------------
def stored_name(attribute: str) -> str:
    """The stored (camelCase) name of a record attribute; an unknown attribute is an error."""
    field = MaintenanceRecord.model_fields.get(attribute)
    if field is None:
        raise AttributeError(f"a maintenance record has no attribute {attribute!r}")
    return field.alias or attribute


@cache
def _adapter(attribute: str) -> TypeAdapter:
    return TypeAdapter(MaintenanceRecord.model_fields[attribute].annotation)


def stored_attributes(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``{attribute: value}`` as stored: camelCase names, values checked against the record's types
    and dumped as plain JSON values (a status is its string, a nested part a map)."""
    stored = {}
    for attribute, value in fields.items():
        name = stored_name(attribute)
        adapter = _adapter(attribute)
        stored[name] = adapter.dump_python(adapter.validate_python(value), mode="json", by_alias=True)
    return stored
