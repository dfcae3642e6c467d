"""The vacuum run record, typed: what ``store.vacuum`` reads and writes, and the rules its changes
are written under (``TRANSITIONS``).

Absent is not null: a field the item does not hold is unset here too (``startedAt``, ``finishedAt``
and ``executionArn`` are written when they happen, and conditions test that they exist), so the
record is written and shown with ``exclude_unset``. ``document()`` is the record as stored
(camelCase), in the item's own key order (then any field set since): what the CLI shows keeps
its order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any, Literal

from pydantic import ConfigDict, TypeAdapter

from g3n_ops.contract.statuses import VacuumStatus
from g3n_ops.records.base import Part, StoredRecord

Scope = Literal["all", "org"]


class VacuumStats(Part):
    """Per-service counters (ADDed to by the checkpoints) and their totals."""

    services: dict[str, dict[str, int | float]] = {}
    totals: dict[str, int | float] = {}


class VacuumError(Part):
    code: str | None = None
    type: str | None = None
    message: str | None = None


class UnitProgress(Part):
    """Where a unit goes on from (``cursor``, JSON), whether it is done, and ``seq``, the number of
    checkpoints committed (the condition that makes each commit happen once)."""

    seq: int = 0
    cursor: str | None = None
    done: bool = False
    started_at: str | None = None
    counts: dict[str, int | float] | None = None


class VerifyProgress(Part):
    done: bool = False
    cursor: str | None = None


class PlanEntry(Part):
    id: str
    unit: dict[str, Any]  # a unit document (see ``domain.purge``)


class BoundPlan(Part):
    """The plan bound to a run when it starts (stored as JSON text in ``plan``): every unit with
    its id, and a digest over the units, scope, orgcode and dryRun."""

    units: list[PlanEntry]
    digest: str


class VacuumRecord(StoredRecord):
    model_config = ConfigDict(validate_assignment=True)

    vacuum_id: str
    status: VacuumStatus
    scope: Scope | None = None
    orgcode: str | None = None
    dry_run: bool = False
    reason: str | None = None
    source: str | None = None
    actor: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    execution_arn: str | None = None
    error: VacuumError | None = None
    stats: VacuumStats | None = None
    request_id: str | None = None
    dry_run_id: str | None = None
    dry_run_stats: VacuumStats | None = None
    with_maintenance: bool | None = None
    maintenance_id: str | None = None
    # Kept for the steps, not shown: the bound plan (JSON text), each unit's progress, the chunks
    # in flight (token → lease end, epoch seconds), the continuation count.
    plan: str | None = None
    progress: dict[str, UnitProgress] | None = None
    in_flight: dict[str, int | float] | None = None
    continuation: int | None = None
    continued_from: str | None = None
    attempt: int | None = None
    resumed_at: str | None = None
    resumed_by: str | None = None
    cancel_requested_at: str | None = None
    cancelled_by: str | None = None
    cancelled_while: str | None = None
    failing_at: str | None = None
    verify_progress: dict[str, VerifyProgress] | None = None
    consumed_by: str | None = None
    consumed_at: str | None = None

    @property
    def totals(self) -> dict[str, int | float] | None:
        """The run's totals, if its stats hold any."""
        return self.stats.totals if self.stats and "totals" in self.stats.model_fields_set else None


class VacuumMutex(Part):
    """One run at a time: the vacuum holding the mutex, until its lease ends (epoch seconds)."""

    owner: str
    lease_expires_at: int | float | None = None
    taken_at: int | float | None = None


# -- the concurrency rules --------------------------------------------------------------------------
class Owner(StrEnum):
    """Which execution a change must come from (the record's ``executionArn``)."""

    ANY = "any"
    EXECUTION = "execution"  # the record belongs to the caller's execution
    EXECUTION_OR_UNBOUND = "execution-or-unbound"  # ... or to none yet
    EXECUTION_IF_NAMED = "execution-if-named"  # the caller's, if it names one (None: the request)


class Holder(StrEnum):
    """Who may hold a claim (``consumedBy``: the real run a dry-run backs)."""

    FREE_OR_MINE = "free-or-mine"
    MINE = "mine"


@dataclass(frozen=True)
class Transition:
    """A change of the record and the condition it is written under: the record exists, its status
    is one of ``from_statuses`` (any if empty), ``owner`` holds, ``requires`` exist, ``dry_run``
    (if not None) is the run's flag, ``claim`` (if given) holds for the claiming run. ``to`` is the
    status it writes; ``sets`` the other attributes it may write, ``removes`` those it removes."""

    from_statuses: tuple[VacuumStatus, ...] = ()
    to: VacuumStatus | None = None
    owner: Owner = Owner.ANY
    sets: frozenset[str] = field(default_factory=frozenset)
    removes: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    dry_run: bool | None = None
    claim: tuple[str, Holder] | None = None


S = VacuumStatus
TRANSITIONS: dict[str, Transition] = {
    # The request names the execution it started (admit may have bound it already).
    "bind-started": Transition(owner=Owner.EXECUTION_OR_UNBOUND, sets=frozenset({"execution_arn"})),
    # The first step binds a pending run to its execution.
    "admit": Transition((S.PENDING,), owner=Owner.EXECUTION_OR_UNBOUND, sets=frozenset({"execution_arn"})),
    "name-window": Transition((S.PENDING,), sets=frozenset({"maintenance_id"})),
    "start": Transition(
        (S.PENDING,),
        S.RUNNING,
        Owner.EXECUTION,
        frozenset({"started_at", "stats", "plan", "progress", "in_flight"}),
    ),
    "cancel-pending": Transition(
        (S.PENDING,), S.CANCELLED, sets=frozenset({"finished_at", "cancelled_by", "cancelled_while"})
    ),
    "cancel-running": Transition(
        (S.RUNNING,), S.CANCELLING, sets=frozenset({"cancel_requested_at", "cancelled_by", "cancelled_while"})
    ),
    "fail-pending": Transition(
        (S.PENDING,), S.FAILED, Owner.EXECUTION_IF_NAMED, frozenset({"finished_at", "error"})
    ),
    "fail-running": Transition(
        (S.RUNNING,), S.FAILING, Owner.EXECUTION_IF_NAMED, frozenset({"error", "failing_at"})
    ),
    # Settling: final once no chunk is in flight (the caller checked), whoever settles.
    "settle-cancelled": Transition(
        (S.CANCELLING,), S.CANCELLED, sets=frozenset({"finished_at"}), removes=("in_flight",)
    ),
    "settle-failed": Transition(
        (S.FAILING,), S.FAILED, sets=frozenset({"finished_at"}), removes=("in_flight",)
    ),
    "resume": Transition(
        (S.FAILED,),
        S.RUNNING,
        sets=frozenset({"attempt", "execution_arn", "continuation", "resumed_at", "resumed_by", "in_flight"}),
        removes=("error", "finished_at"),
    ),
    "continue": Transition(
        (S.RUNNING,),
        owner=Owner.EXECUTION,
        sets=frozenset({"execution_arn", "continuation", "continued_from"}),
    ),
    "record-verified": Transition((S.RUNNING,), owner=Owner.EXECUTION, sets=frozenset({"verify_progress"})),
    "complete": Transition((S.RUNNING,), S.COMPLETED, Owner.EXECUTION, frozenset({"finished_at"})),
    # A chunk announces itself (inFlight.<token>) only while its run runs in its execution.
    "enter-chunk": Transition((S.RUNNING,), owner=Owner.EXECUTION, requires=("in_flight",)),
    # A completed dry-run backs one real run (a retry of the same run claims it again) ...
    "claim-dry-run": Transition(
        (S.COMPLETED,),
        dry_run=True,
        claim=("consumed_by", Holder.FREE_OR_MINE),
        sets=frozenset({"consumed_by", "consumed_at"}),
    ),
    # ... and is given back by it if it was cancelled before it left its pending window.
    "release-dry-run": Transition(claim=("consumed_by", Holder.MINE), removes=("consumed_by", "consumed_at")),
}


def attribute(name: str) -> str:
    """A record attribute's name in the item (camelCase)."""
    return VacuumRecord.model_fields[name].alias or name


@cache
def _adapter(name: str) -> TypeAdapter:
    return TypeAdapter(VacuumRecord.model_fields[name].annotation)


def stored_value(name: str, value: Any) -> Any:
    """``value`` of the attribute ``name`` as the item holds it (checked against its type)."""
    adapter = _adapter(name)
    return adapter.dump_python(adapter.validate_python(value), mode="json", by_alias=True, exclude_unset=True)


def changes_of(transition: Transition, values: dict[str, Any]) -> dict[str, Any]:
    """What ``transition`` writes, by item attribute: its status and ``values`` (which it must allow)."""
    unknown = set(values) - transition.sets
    if unknown:
        raise ValueError(f"this transition does not write {', '.join(sorted(unknown))}")
    written = {attribute(name): stored_value(name, value) for name, value in values.items()}
    return ({"status": transition.to.value} if transition.to else {}) | written
