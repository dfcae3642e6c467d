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

A service that errors, hangs or cannot be reached has simply not shown the effect yet. Probing is
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

from g3n_ops.domain import maintenance
from g3n_ops.observability import logger, metrics
from g3n_ops.registry import Service, load_registry
from g3n_ops.settings import settings
from g3n_ops.store import maintenance as store

REQUEST_TIMEOUT_SECONDS = 2  # a hanging service must not hold the others' verdict
PROBE_INTERVAL_SECONDS = 1
STEP_BUDGET_SECONDS = 10  # well inside the steps function's timeout; the state machine loops
_BODY_LIMIT = 4096
NOT_EFFECTIVE_METRIC = "MaintenanceNotEffective"
NOT_RECOVERED_METRIC = "MaintenanceNotRecovered"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused, timed out, unreachable)
    maintenance_id: str | None = None  # from a 503 body, when it is the guard's


@dataclass(frozen=True)
class Phase:
    name: str
    record_status: str  # the window's status while this phase is worth probing
    since: str  # the record field the deadline counts from
    per_service: str
    all_done: str
    missing: str
    metric: str

    def shows(self, answer: Answer, maintenance_id: str) -> bool:
        if self.name == "blocked":
            return answer.status == 503 and answer.maintenance_id == maintenance_id
        return answer.status is not None and answer.status < 500 and answer.status != 503


PHASES = {
    "blocked": Phase(
        "blocked", "active", "startedAt", "effectiveAt", "allBlockedAt", "notEffective", NOT_EFFECTIVE_METRIC
    ),
    "recovered": Phase(
        "recovered", "ended", "endedAt", "recoveredAt", "allRecoveredAt", "notRecovered", NOT_RECOVERED_METRIC
    ),
}
RECORD_FIELDS = (
    "effectiveAt",
    "allBlockedAt",
    "notEffective",
    "recoveredAt",
    "allRecoveredAt",
    "notRecovered",
)


def health(url: str, *, timeout: float = REQUEST_TIMEOUT_SECONDS) -> Answer:
    """One GET of a health URL; any failure to get an HTTP answer is ``Answer(None)``."""
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", "User-Agent": "g3n-ops-probe"}
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


def _probe_all(services: list[Service]) -> list[Answer]:
    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        return list(pool.map(lambda service: health(service.health_url), services))


def _deadline(record: dict, phase: Phase) -> datetime:
    slack = settings().guard_ttl_seconds + settings().maintenance_probe_margin_seconds
    return maintenance.parse_iso(record[phase.since]) + timedelta(seconds=slack)


def probe(maintenance_id: str, phase_name: str, *, until: str | None = None) -> dict:
    """Probe the services still pending for ``phase_name`` (``blocked`` | ``recovered``) for at most
    the step budget, stopping early at ``until`` (the window's expected end, for the blocked phase).
    Returns ``{"done": bool, "outcome", "pending": [codes]}`` for the state machine's loop."""
    phase = PHASES[phase_name]
    record = maintenance.get(maintenance_id)
    result = {"maintenanceId": maintenance_id, "phase": phase.name, "done": True, "pending": []}
    if record["status"] != phase.record_status or not record.get(phase.since):
        return {**result, "outcome": "window-moved-on"}
    if record.get(phase.all_done) or record.get(phase.missing):
        return {**result, "outcome": "already-concluded"}

    deadline = _deadline(record, phase)
    stop = min(maintenance.now() + timedelta(seconds=STEP_BUDGET_SECONDS), deadline)
    if until:
        stop = min(stop, maintenance.parse_iso(until))
    seen: dict[str, str] = dict(record.get(phase.per_service) or {})
    pending = [service for service in load_registry().api_services if service.code not in seen]
    while pending:
        answers = _probe_all(pending)
        at = maintenance.iso(maintenance.now())
        for service, answer in zip(pending, answers, strict=True):
            if phase.shows(answer, maintenance_id):
                seen[service.code] = at
        pending = [service for service in pending if service.code not in seen]
        if not pending or maintenance.now() + timedelta(seconds=PROBE_INTERVAL_SECONDS) >= stop:
            break
        time.sleep(PROBE_INTERVAL_SECONDS)

    codes = sorted(service.code for service in pending)
    fields: dict = {phase.per_service: seen}
    moment = maintenance.now()
    if not pending:
        fields[phase.all_done] = max(seen.values())
        outcome = "all-" + phase.name
    elif moment >= deadline:
        fields[phase.missing] = codes
        outcome = "not-" + ("effective" if phase.name == "blocked" else "recovered")
    elif until and moment >= maintenance.parse_iso(until):
        outcome = "expected-end-reached"  # a window shorter than TTL + margin: no verdict
    else:
        outcome = "probing"
    try:
        store.record_effect(maintenance_id, fields, expected_status=phase.record_status)
    except store.RecordConditionFailed:
        return {**result, "outcome": "window-moved-on"}
    if phase.missing in fields:
        logger.error(
            f"maintenance {phase.name} phase not reached by every service",
            extra={"maintenanceId": maintenance_id, phase.missing: codes},
        )
        metrics.add_metric(name=phase.metric, unit="Count", value=len(codes))
    return {**result, "done": outcome != "probing", "outcome": outcome, "pending": codes}


def summary(record: dict) -> dict:
    """The probe fields a record has so far (for ping, and anything that shows a window)."""
    return {name: record[name] for name in RECORD_FIELDS if record.get(name) is not None}
