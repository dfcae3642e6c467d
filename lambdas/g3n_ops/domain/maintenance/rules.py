"""What a window may be: limits, ids, validation, the bypass token, and how a record is shown."""

from __future__ import annotations

import hashlib
import math
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from g3n_ops.contract.errors import (
    InvalidInput,
)
from g3n_ops.contract.ids import MAINTENANCE_ID_HINT, MAINTENANCE_ID_PATTERN, MAINTENANCE_ID_PREFIX
from g3n_ops.contract.maintenance import (
    HTTP_METHODS,
    MAX_DESCRIPTION_LENGTH,
    MAX_DURATION_SECONDS,
    MAX_TEXT_LENGTH,
    MIN_DURATION_SECONDS,
)
from g3n_ops.contract.statuses import MAINTENANCE_STATUSES
from g3n_ops.contract.timestamps import iso_seconds, parse_iso, utc_now
from g3n_ops.records.maintenance import MaintenanceRecord
from g3n_ops.registry import load_registry

STATUSES = MAINTENANCE_STATUSES

# A start slightly in the past is an operator saying "now" with a little typing or clock skew.
START_TOLERANCE_SECONDS = 60
MAX_START_AHEAD = timedelta(days=90)
MAX_UPDATES = 100  # keeps a record far below DynamoDB's 400 KB item limit
# Timers may fire up to a second early (the local interpreter truncates to whole seconds); a
# window must never be closed or flagged before its expected end, so the end timer gets 1 s slack.
END_TIMER_SLACK = timedelta(seconds=1)
# How much earlier than its time a step is still believed (Step Functions and Lambda keep their own clocks).
CLOCK_SLACK = timedelta(seconds=1)
RACE_ATTEMPTS = 3
BYPASS_TOKEN_BYTES = 32  # 256 bits, 43 URL-safe characters
# The record and state fields that are OPS's own, never shown by a read (ping, get, list, MCP).
PRIVATE_FIELDS = ("bypassSha256",)

# Who acts when nobody typed a command: the lifecycle state machine's own steps.
STATE_MACHINE_SOURCE = "state-machine"

T = TypeVar("T")

_ID_PATTERN = re.compile(MAINTENANCE_ID_PATTERN)


@dataclass(frozen=True)
class Actor:
    """Who asked: the surface (cli, mcp, console, schedule, state-machine) and, if known, the
    principal or execution."""

    source: str
    actor: str | None = None


class Raced(Exception):
    """The record changed between our read and our write; read again and decide again."""


# -- time ----------------------------------------------------------------------------------------
def now() -> datetime:
    return utc_now()


def end_timer(expected_end: str) -> str:
    moment = parse_iso(expected_end)
    whole = moment.replace(microsecond=0) + timedelta(seconds=math.ceil(moment.microsecond / 1e6))
    return iso_seconds(whole + END_TIMER_SLACK)


# -- validation ----------------------------------------------------------------------------------
def check_description(description: str) -> str:
    description = description.strip()
    if not 1 <= len(description) <= MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(f"the description must be 1 to {MAX_DESCRIPTION_LENGTH} characters")
    return description


def check_text(text: str, what: str) -> str:
    text = text.strip()
    if not 1 <= len(text) <= MAX_TEXT_LENGTH:
        raise InvalidInput(f"the {what} must be 1 to {MAX_TEXT_LENGTH} characters")
    return text


def check_duration(duration: int) -> int:
    if isinstance(duration, bool) or not isinstance(duration, int):
        raise InvalidInput("the duration must be a whole number of seconds")
    if not MIN_DURATION_SECONDS <= duration <= MAX_DURATION_SECONDS:
        raise InvalidInput(
            f"the duration must be from {MIN_DURATION_SECONDS} to {MAX_DURATION_SECONDS} seconds (7 days)"
        )
    return duration


def parse_start(text: str, moment: datetime) -> datetime:
    """An ISO 8601 start with a timezone, not in the past (beyond a minute), at most 90 days out."""
    try:
        start = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput("the start must be an ISO 8601 time, e.g. 2026-12-01T02:00:00Z") from None
    if start.tzinfo is None:
        raise InvalidInput("the start must include a timezone, e.g. 2026-12-01T02:00:00Z or +01:00")
    if start < moment - timedelta(seconds=START_TOLERANCE_SECONDS):
        raise InvalidInput("the start is in the past; give a future time (or now)")
    if start > moment + MAX_START_AHEAD:
        raise InvalidInput(f"the start must be within {MAX_START_AHEAD.days} days from now")
    return start.astimezone(UTC)


def check_id(maintenance_id: str) -> str:
    if not _ID_PATTERN.match(maintenance_id or ""):
        raise InvalidInput(MAINTENANCE_ID_HINT)
    return maintenance_id


def new_id(moment: datetime) -> str:
    return f"{MAINTENANCE_ID_PREFIX}{moment:%Y%m%d}-{secrets.token_hex(4)}"


def api_service_codes() -> list[str]:
    """The codes of the API services (those behind the guard), in registry order."""
    return [service.code for service in load_registry().api_services]


def check_services(services: list[str] | str | None) -> list[str] | None:
    """A window's scope: registry codes of API services, given as a list or ``"pay,ord"``.
    Blanks are skipped and duplicates collapsed; an unknown code is refused with the known ones
    listed. None (or every API service named) is the whole platform: None."""
    if services is None:
        return None
    given = services.split(",") if isinstance(services, str) else services
    if not isinstance(given, list | tuple) or not all(isinstance(code, str) for code in given):
        raise InvalidInput("services must be service codes, e.g. pay,ord")
    known = api_service_codes()
    wanted = {code.strip().lower() for code in given} - {""}
    if not wanted:
        raise InvalidInput("name at least one service (or leave services out for all of them)")
    unknown = sorted(wanted - set(known))
    if unknown:
        shown = ", ".join(code[:32] for code in unknown[:5]) + (" …" if len(unknown) > 5 else "")
        raise InvalidInput(f"unknown service code(s): {shown}; the known ones are {', '.join(known)}")
    if wanted == set(known):
        return None
    return [code for code in known if code in wanted]


def check_methods(methods: list[str] | str | None) -> list[str] | None:
    """The HTTP methods a window lets through, as a list or ``"GET,HEAD"``: a proper subset of
    HTTP_METHODS (case-insensitive, blanks skipped, duplicates collapsed). None: nothing passes."""
    if methods is None:
        return None
    given = methods.split(",") if isinstance(methods, str) else methods
    if not isinstance(given, list | tuple) or not all(isinstance(method, str) for method in given):
        raise InvalidInput("allowMethods must be HTTP methods, e.g. GET,HEAD")
    wanted = {method.strip().upper() for method in given} - {""}
    unknown = sorted(wanted - set(HTTP_METHODS))
    if unknown:
        shown = ", ".join(method[:16] for method in unknown[:5])
        raise InvalidInput(f"unknown HTTP method(s): {shown}; use some of {', '.join(HTTP_METHODS)}")
    if not wanted:
        return None
    if wanted == set(HTTP_METHODS):
        raise InvalidInput("allowing every HTTP method blocks nothing; leave some out (e.g. GET,HEAD)")
    return [method for method in HTTP_METHODS if method in wanted]


def new_bypass_token() -> str:
    """A fresh operator bypass token (shown once; only its SHA-256 is kept)."""
    return secrets.token_urlsafe(BYPASS_TOKEN_BYTES)


def bypass_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mode(document: dict) -> str:
    """``read-only`` when a window lets some methods through, else ``full``."""
    return "read-only" if document.get("allowMethods") else "full"


def shown(document: dict | MaintenanceRecord) -> dict:
    """A record or state as any read shows it: without the bypass digest, saying whether there is
    a bypass and what kind of window it is."""
    if isinstance(document, MaintenanceRecord):
        document = document.document()
    if not isinstance(document, dict) or not document.get("maintenanceId"):
        return document
    visible = {key: value for key, value in document.items() if key not in PRIVATE_FIELDS}
    visible.setdefault("services", None)
    visible.setdefault("allowMethods", None)
    visible["bypass"] = bool(document.get("bypassSha256")) or bool(document.get("bypass"))
    visible["mode"] = mode(document)
    return visible
