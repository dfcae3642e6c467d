"""The HTTP API's response shapes. The OpenAPI contract (``GET /openapi.json``, docs/openapi.json) is
generated from these and the handlers' signatures, and every response is validated against them.

Objects allow more fields than they name (``extra="allow"``): a field added to a payload is a
compatible change, a field removed or retyped is not.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from g3n_ops.contract.ids import MAINTENANCE_ID_PATTERN
from g3n_ops.contract.statuses import MAINTENANCE_STATUSES

MaintenanceStatus = Literal[MAINTENANCE_STATUSES]  # type: ignore[valid-type]
Timestamp = str  # ISO 8601, UTC, ``Z``
WindowMode = Literal["full", "read-only"]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


# -- errors --------------------------------------------------------------------------------------
class ErrorDetail(_Open):
    code: str = Field(description="stable error code (docs/recap.md#error-codes)", examples=["invalid-input"])
    message: str = Field(description="what went wrong and what to do about it")


class ErrorResponse(_Open):
    error: ErrorDetail


# -- maintenance ---------------------------------------------------------------------------------
class LatestUpdate(_Open):
    text: str
    at: Timestamp


class InactiveState(_Open):
    """No window is active (and nothing else is said)."""

    active: Literal[False]


class _Narrowing(_Open):
    """What a window covers: which services, which methods still pass, whether an operator bypass
    exists (never the token, nor its digest)."""

    services: list[str] | None = Field(
        default=None, description="the service codes the window applies to; null: every API service"
    )
    allowMethods: list[str] | None = Field(
        default=None, description="HTTP methods that still pass (read-only maintenance); null: none"
    )
    mode: WindowMode = Field(default="full", description="`read-only` when some methods still pass")
    bypass: bool = Field(
        default=False,
        description="an operator bypass token exists (X-G3N-Maintenance-Bypass); it is shown only "
        "once, to whoever issued it",
    )


class ActiveState(_Narrowing):
    """The active window, as the maintenance guard of the 14 services reads it."""

    active: Literal[True]
    maintenanceId: str
    description: str
    latestUpdate: LatestUpdate | None
    startedAt: Timestamp
    expectedEnd: Timestamp
    overrunning: bool


MaintenanceState = InactiveState | ActiveState


class UpdateEntry(_Open):
    text: str
    at: Timestamp
    source: str
    actor: str | None


class HistoryEntry(_Open):
    action: str
    from_: str | None = Field(alias="from")
    to: str
    at: Timestamp
    source: str
    actor: str | None
    message: str | None


class MaintenanceRecord(_Narrowing):
    maintenanceId: str = Field(pattern=MAINTENANCE_ID_PATTERN)
    status: MaintenanceStatus
    description: str
    start: Timestamp
    duration: int
    autoEnd: bool
    overrunning: bool
    createdAt: Timestamp
    source: str
    actor: str | None
    executionArn: str | None
    startedAt: Timestamp | None
    expectedEnd: Timestamp | None
    endedAt: Timestamp | None
    cancelledAt: Timestamp | None
    endMessage: str | None
    latestUpdate: LatestUpdate | None
    updates: list[UpdateEntry]
    history: list[HistoryEntry]
    version: int


class MaintenancePage(_Open):
    items: list[MaintenanceRecord] = Field(description="newest first (by createdAt)")
    nextToken: str | None = Field(description="pass it back to continue; null on the last page")


# -- ping / stat ---------------------------------------------------------------------------------
class Ping(_Open):
    status: Literal["ok"]
    service: Literal["ops"]
    stage: str
    time: Timestamp
    maintenance: MaintenanceState


class StatMaintenance(_Open):
    current: MaintenanceState
    byStatus: dict[str, int]


class LastVacuum(_Open):
    vacuumId: str | None
    status: str | None
    scope: str | None
    orgcode: str | None
    dryRun: bool | None
    createdAt: Timestamp | None
    finishedAt: Timestamp | None
    totals: dict | None = Field(description="its stats.totals (docs/recap.md#the-vacuum-record)")


class StatVacuum(_Open):
    last: LastVacuum | None
    byStatus: dict[str, int]


class ServiceTables(_Open):
    tables: dict[str, int | None] = Field(description="table name → item count (null: the table is missing)")


class Stat(_Open):
    stage: str
    time: Timestamp
    maintenance: StatMaintenance
    vacuum: StatVacuum
    services: dict[str, ServiceTables]


# -- the public status page ----------------------------------------------------------------------
class PublicUpdate(BaseModel):
    text: str
    at: Timestamp


class PublicEffect(BaseModel):
    """Whether the window took effect: when each service started answering 503 (``effectiveAt``),
    when all of them did (``allBlockedAt``) and which never did (``notEffective``)."""

    effectiveAt: dict[str, Timestamp] | None = None
    allBlockedAt: Timestamp | None = None
    notEffective: list[str] | None = None
    othersUnaffected: Timestamp | None = Field(
        default=None, description="a scoped window: when the services outside it were proven still answering"
    )
    collateral: list[str] | None = Field(
        default=None, description="a scoped window: services outside it that did not keep answering"
    )


class PublicScope(BaseModel):
    """Which services a window affects (null: all of them) and whether reads go on."""

    services: list[str] | None = Field(default=None, description="affected service codes; null: every one")
    mode: WindowMode = "full"
    allowMethods: list[str] | None = Field(default=None, description="methods that still answer (read-only)")


class PublicActiveWindow(PublicScope):
    maintenanceId: str
    description: str
    startedAt: Timestamp | None
    expectedEnd: Timestamp | None
    overrunning: bool
    updates: list[PublicUpdate] = Field(description="every update, newest first")
    effect: PublicEffect | None = Field(description="null until the window's effect is recorded")


class PublicScheduledWindow(PublicScope):
    maintenanceId: str
    description: str
    start: Timestamp
    duration: int = Field(description="planned length in seconds")
    expectedEnd: Timestamp


class PublicEndedWindow(BaseModel):
    maintenanceId: str
    description: str
    startedAt: Timestamp | None
    endedAt: Timestamp | None
    endMessage: str | None


class PublicStatus(BaseModel):
    """What anyone may see: the active window, what is scheduled, what ended. Nothing else."""

    generatedAt: Timestamp
    active: PublicActiveWindow | None
    scheduled: list[PublicScheduledWindow] = Field(description="starting within 7 days, soonest first")
    recentlyEnded: list[PublicEndedWindow] = Field(description="the last 10 ended windows, latest first")
    refreshSeconds: int | None = Field(
        description="while a window is active or about to start: how often the page reloads itself"
    )
