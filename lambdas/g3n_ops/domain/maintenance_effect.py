"""Proof that a maintenance window took effect: every API service's health URL answers 503 for
this window after it starts, and stops doing so after it ends.

The lifecycle state machine calls :func:`probe` in a loop (a Wait between calls). Each call probes
the services still pending in parallel, again every second, for at most ``STEP_BUDGET_SECONDS``
(so an execution's history grows by a handful of events per call, never per probe), and writes
what it saw on the record:

- blocked phase (after the start): ``effectiveAt`` {code: when it first answered 503 with this
  window's id}; ``allBlockedAt`` once every service has; or, when the guard's TTL plus the margin
  has passed since ``startedAt`` with some still answering, ``notEffective`` [codes] and the
  metric ``MaintenanceNotEffective`` (the count);
- recovered phase (after the end): ``recoveredAt`` {code: when it first answered below 500 and not
  503}; ``allRecoveredAt``; or ``notRecovered`` [codes] and ``MaintenanceNotRecovered``.

A scoped window (``services``) is proven on both sides. The phases above concern the services it
affects; in the blocked phase the others are probed too, until the same deadline, since a guard
that wrongly applies the window shows it only after its TTL: ``othersUnaffected`` (when the
verdict was reached) if every other service kept answering (below 500, never this window's 503),
otherwise ``collateral`` [codes] and the metric ``MaintenanceCollateral`` (the count). Until then
``collateralAt`` {code: when it answered this window's 503} keeps what was seen between calls.

A read-only window (``allowMethods``) lets the probe's usual GET through, so its blocked phase
probes with the first method the window stops, in the order of ``PROBE_METHODS`` (POST, with an
empty body, for GET,HEAD): the guard answers it before the service's own code does, and a service
whose guard missed the window answers it itself (say 405), which is "not effective" as it should
be. A service that errors, hangs or cannot be reached has simply not shown the effect yet. Probing is
observation: it never changes the window's status, and a window that moves on (ended, say) while
it is probed ends the probing.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from g3n_ops.contract.metrics import Metric
from g3n_ops.contract.registry import Service
from g3n_ops.contract.statuses import MaintenanceStatus
from g3n_ops.contract.timestamps import iso, parse_iso, utc_now
from g3n_ops.domain import maintenance
from g3n_ops.observability import logger, metrics
from g3n_ops.records.maintenance import WRITTEN_UNDER, MaintenanceRecord, Transition, stored_name
from g3n_ops.registry import load_registry
from g3n_ops.settings import settings
from g3n_ops.store import maintenance as store

REQUEST_TIMEOUT_SECONDS = 2  # a hanging service must not hold the others' verdict
PROBE_INTERVAL_SECONDS = 1
STEP_BUDGET_SECONDS = 10  # well inside the steps function's timeout; the state machine loops
_BODY_LIMIT = 4096
NOT_EFFECTIVE_METRIC = Metric.MAINTENANCE_NOT_EFFECTIVE
NOT_RECOVERED_METRIC = Metric.MAINTENANCE_NOT_RECOVERED
COLLATERAL_METRIC = Metric.MAINTENANCE_COLLATERAL
# GET first; HEAD last (a 503 without a body cannot name its window).
PROBE_METHODS = ("GET", "POST", "OPTIONS", "PUT", "PATCH", "DELETE", "HEAD")


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, timed out, unreachable)
    maintenance_id: str | None = None  # from a 503 body, when it is the guard's


@dataclass(frozen=True)
class Phase:
    """A phase and the record attributes it reads and writes."""

    name: str
    transition: Transition  # what its writes are conditional on: the window still in this phase
    since: str  # the attribute the deadline counts from
    per_service: str
    all_done: str
    missing: str
    metric: str

    @property
    def record_status(self) -> MaintenanceStatus | None:
        """The window's status while this phase is worth probing."""
        return WRITTEN_UNDER[self.transition].status

    def shows(self, answer: Answer, maintenance_id: str) -> bool:
        if self.name == "blocked":
            return answer.status == 503 and answer.maintenance_id == maintenance_id
        return answering(answer)


def answering(answer: Answer) -> bool:
    """Serving as usual: an HTTP answer below 500 that is not a 503."""
    return answer.status is not None and answer.status < 500 and answer.status != 503


PHASES = {
    "blocked": Phase(
        "blocked",
        Transition.PROBE_BLOCKED,
        "started_at",
        "effective_at",
        "all_blocked_at",
        "not_effective",
        NOT_EFFECTIVE_METRIC,
    ),
    "recovered": Phase(
        "recovered",
        Transition.PROBE_RECOVERED,
        "ended_at",
        "recovered_at",
        "all_recovered_at",
        "not_recovered",
        NOT_RECOVERED_METRIC,
    ),
}
# The record attributes the probes write that ping and the like show (``summary``).
RECORD_FIELDS = (
    "effective_at",
    "all_blocked_at",
    "not_effective",
    "recovered_at",
    "all_recovered_at",
    "not_recovered",
    "others_unaffected",
    "collateral",
)


def probe_method(record: MaintenanceRecord) -> str:
    """The method that shows whether ``record``'s window blocks a service: GET, unless it lets GET
    through (read-only maintenance); then the first method in PROBE_METHODS it stops."""
    allowed = set(record.allow_methods or ())
    return next((method for method in PROBE_METHODS if method not in allowed), "GET")


def health(url: str, *, timeout: float = REQUEST_TIMEOUT_SECONDS, method: str = "GET") -> Answer:
    """One request (GET by default) to a health URL; any failure to get an HTTP answer is ``Answer(None)``."""
    request = urllib.request.Request(
        url,
        headers={"Accept": "application/json", "User-Agent": "g3n-ops-probe"},
        method=method,
        data=b"" if method in ("POST", "PUT", "PATCH") else None,
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status)
    except urllib.error.HTTPError as error:
        return Answer(error.code, _maintenance_id(error.read(_BODY_LIMIT)) if error.code == 503 else None)
    except (OSError, http.client.HTTPException):  # URLError, timeouts, resets, garbled answers
        return Answer(None)


def _maintenance_id(body: bytes) -> str | None:
    try:
        document = json.loads(body)
    except ValueError:
        return None
    return document.get("maintenanceId") if isinstance(document, dict) else None


def _probe_all(services: list[Service], methods: dict[str, str] | None = None) -> list[Answer]:
    """Every service's health URL at once; ``methods``: {code: method} other than GET."""
    methods = methods or {}
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        return list(pool.map(lambda s: health(s.health_url, method=methods.get(s.code, "GET")), services))


def split_scope(record: MaintenanceRecord, services: list[Service]) -> tuple[list[Service], list[Service]]:
    """(the API services the window affects, the others): a window without ``services`` affects all."""
    scope = record.services
    if not isinstance(scope, list):
        return list(services), []
    return [s for s in services if s.code in scope], [s for s in services if s.code not in scope]


def _deadline(record: MaintenanceRecord, phase: Phase) -> datetime:
    slack = settings().guard_ttl_seconds + settings().maintenance_probe_margin_seconds
    return parse_iso(getattr(record, phase.since)) + timedelta(seconds=slack)


def probe(maintenance_id: str, phase_name: str, *, until: str | None = None) -> dict:
    """Probe the services still pending for ``phase_name`` (``blocked`` | ``recovered``) for at most
    the step budget, stopping early at ``until`` (the window's expected end, for the blocked phase).
    Returns ``{"done": bool, "outcome", "pending": [codes]}`` for the state machine's loop."""
    phase = PHASES[phase_name]
    record = maintenance.get(maintenance_id)
    result = {"maintenanceId": maintenance_id, "phase": phase.name, "done": True, "pending": []}
    if record.status != phase.record_status or not getattr(record, phase.since):
        return {**result, "outcome": "window-moved-on"}
    affected, others = split_scope(record, load_registry().api_services)
    if phase.name != "blocked":
        others = []  # after the end only the affected services have anything to recover from
    concluded = bool(getattr(record, phase.all_done) or getattr(record, phase.missing))
    others_concluded = not others or bool(record.others_unaffected or record.collateral)
    if concluded and others_concluded:
        return {**result, "outcome": "already-concluded"}

    deadline = _deadline(record, phase)
    stop = min(utc_now() + timedelta(seconds=STEP_BUDGET_SECONDS), deadline)
    if until:
        stop = min(stop, parse_iso(until))
    seen: dict[str, str] = dict(getattr(record, phase.per_service) or {})
    pending = [] if concluded else [service for service in affected if service.code not in seen]
    watched = [] if others_concluded else others
    collateral_at: dict[str, str] = dict(record.collateral_at or {})
    last: dict[str, Answer] = {}
    # The affected services, while blocked, with a method the window stops (read-only windows).
    method = probe_method(record) if phase.name == "blocked" else "GET"
    while pending or watched:
        answers = _probe_all(pending + watched, {service.code: method for service in pending})
        at = iso(utc_now())
        for service, answer in zip(pending, answers, strict=False):
            if phase.shows(answer, maintenance_id):
                seen[service.code] = at
        for service, answer in zip(watched, answers[len(pending) :], strict=True):
            last[service.code] = answer
            if PHASES["blocked"].shows(answer, maintenance_id):
                collateral_at.setdefault(service.code, at)
        pending = [service for service in pending if service.code not in seen]
        # The others are watched until the deadline: only then has every guard read the window.
        next_round = utc_now() + timedelta(seconds=PROBE_INTERVAL_SECONDS)
        if (not pending and not watched) or next_round >= stop:
            break
        time.sleep(PROBE_INTERVAL_SECONDS)

    codes = sorted(service.code for service in pending)
    fields: dict = {}
    moment = utc_now()
    outcome = "probing"
    if concluded:  # in an earlier call; only the others were left to watch
        outcome = "all-" + phase.name if getattr(record, phase.all_done) else "not-effective"
    if not concluded:
        fields[phase.per_service] = seen
        if not pending:
            fields[phase.all_done] = max(seen.values()) if seen else iso(moment)
            outcome = "all-" + phase.name
        elif moment >= deadline:
            fields[phase.missing] = codes
            outcome = "not-" + ("effective" if phase.name == "blocked" else "recovered")
    collateral: list[str] = []
    if watched:
        fields["collateral_at"] = collateral_at
        if moment >= deadline:
            silent = {code for code, answer in last.items() if not answering(answer)}
            collateral = sorted(set(collateral_at) | silent | ({s.code for s in watched} - set(last)))
            fields["collateral" if collateral else "others_unaffected"] = collateral or iso(moment)
    affected_done = concluded or phase.all_done in fields or phase.missing in fields
    others_done = others_concluded or "collateral" in fields or "others_unaffected" in fields
    if not (affected_done and others_done):
        # A window shorter than TTL + margin reaches its expected end first: no verdict.
        outcome = "expected-end-reached" if until and moment >= parse_iso(until) else "probing"
    try:
        store.record_effect(maintenance_id, fields, transition=phase.transition)
    except store.RecordConditionFailed:
        return {**result, "outcome": "window-moved-on"}
    if phase.missing in fields:
        logger.error(
            f"maintenance {phase.name} phase not reached by every service",
            extra={"maintenanceId": maintenance_id, stored_name(phase.missing): codes},
        )
        metrics.add_metric(name=phase.metric, unit="Count", value=len(codes))
    if collateral:
        logger.error(
            "maintenance reached services outside its scope",
            extra={"maintenanceId": maintenance_id, "collateral": collateral},
        )
        metrics.add_metric(name=COLLATERAL_METRIC, unit="Count", value=len(collateral))
    answer = {**result, "done": outcome != "probing", "outcome": outcome, "pending": codes}
    if watched:
        answer["others"] = "collateral" if collateral else "unaffected" if others_done else "watching"
    return answer


def summary(record: MaintenanceRecord | None) -> dict:
    """The probe fields a record has so far (for ping, and anything that shows a window)."""
    if record is None:
        return {}
    found = {name: getattr(record, name) for name in RECORD_FIELDS}
    return {stored_name(name): value for name, value in found.items() if value is not None}
