"""Direct-invoke maintenance operations: schedule, start, update, end, cancel.

The router verifies the secret code before any of these runs. ``maintenance-schedule`` is
idempotent on the caller's ``requestId`` plus the window's fields (never the secret code): a
retried invoke returns the first call's record instead of creating a second window.

The operator bypass: ``bypass`` on schedule/start and ``rotateBypass`` on update issue a fresh
token here; the answer carries it as ``bypassToken``, once. Only its SHA-256 is stored; the
idempotency record keeps the record without the token, so a replayed schedule answers
``bypassToken: null`` (the operator rotates to get a new one). Every record answered goes
through ``maintenance.shown`` (no digest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Literal

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import Field

from g3n_ops.aws import client
from g3n_ops.contract import maintenance as limits
from g3n_ops.contract.errors import RequestInProgress
from g3n_ops.domain import maintenance
from g3n_ops.handlers.operations import Operations
from g3n_ops.models import MaintenanceId, Request, SecretRequest
from g3n_ops.observability import logger, metrics, tracer
from g3n_ops.settings import settings

operations = Operations()

# A client retries within seconds; an hour also covers an operator re-running the same command.
IDEMPOTENCY = IdempotencyConfig(expires_after_seconds=3600)
# Generous caps against absurd payloads; the domain enforces the real limits with clear messages.
_TEXT_LIMIT = 4 * limits.MAX_TEXT_LENGTH
# "pay,ord" or ["pay", "ord"]; the domain checks the codes against the registry.
_Code = Annotated[str, Field(max_length=64)]
_Codes = Annotated[list[_Code], Field(max_length=64)] | Annotated[str, Field(max_length=1024)] | None


class _Narrowing(SecretRequest):
    """What narrows a window: the services it applies to, the methods it lets through."""

    services: _Codes = None
    allow_methods: _Codes = Field(default=None, alias="allowMethods")


class ScheduleRequest(_Narrowing):
    operation: Literal["maintenance-schedule"]
    description: str = Field(max_length=4 * limits.MAX_DESCRIPTION_LENGTH)
    duration: int
    start: str = Field(max_length=64)
    auto_end: bool = Field(default=False, alias="autoEnd")
    bypass: bool = False


class WindowRequest(SecretRequest):
    operation: Literal["maintenance-cancel"]
    maintenance_id: MaintenanceId


class StartRequest(SecretRequest):
    operation: Literal["maintenance-start"]
    maintenance_id: MaintenanceId
    bypass: bool = False


class UpdateRequest(SecretRequest):
    operation: Literal["maintenance-update"]
    text: str | None = Field(default=None, max_length=_TEXT_LIMIT)
    rotate_bypass: bool = Field(default=False, alias="rotateBypass")


class EndRequest(SecretRequest):
    operation: Literal["maintenance-end"]
    end_message: str = Field(alias="endMessage", max_length=4 * limits.MAX_TEXT_LENGTH)


def _actor(request: Request) -> maintenance.Actor:
    return maintenance.Actor(source=request.source, actor=request.actor)


def _keywords(window: dict) -> dict:
    return {
        "description": window["description"],
        "duration": window["duration"],
        "start": window["start"],
        "auto_end": window["autoEnd"],
        "services": window.get("services"),
        "allow_methods": window.get("allowMethods"),
    }


@dataclass
class Bypass:
    """A token issued for this call, and whether the call that stored its digest is this one
    (an idempotent replay returns the first call's record: this token was never stored)."""

    token: str | None
    stored: bool = False


def _issue(wanted: bool) -> Bypass:
    return Bypass(maintenance.new_bypass_token() if wanted else None)


def _answer(record: dict, bypass: Bypass) -> dict:
    """The record as shown, plus ``bypassToken`` when one was asked for: the token, the only time
    it is ever shown, or null when this call did not store it (a replay)."""
    answer = maintenance.shown(record)
    if bypass.token is not None:
        answer["bypassToken"] = bypass.token if bypass.stored else None
    return answer


@cache
def _schedule_once(table_name: str, dynamodb) -> Callable[..., dict]:
    """The idempotent schedule, bound to the OPS table (built on first use: the table name and
    client come from the environment the function runs in)."""
    persistence = DynamoDBPersistenceLayer(table_name=table_name, key_attr="pk", boto3_client=dynamodb)

    @idempotent_function(
        data_keyword_argument="window",
        persistence_store=persistence,
        config=IDEMPOTENCY,
        key_prefix="maintenance-schedule",
    )
    def schedule(*, window: dict, by: maintenance.Actor, bypass: Bypass) -> dict:
        # Only ``window`` keys the idempotency; the stored answer never holds the token.
        record = maintenance.schedule(**_keywords(window), by=by, bypass_token=bypass.token)
        bypass.stored = bypass.token is not None
        return maintenance.shown(record)

    return schedule


@operations.route("maintenance-schedule", ScheduleRequest)
def schedule(request: ScheduleRequest) -> dict:
    window = {
        "description": request.description,
        "duration": request.duration,
        "start": request.start,
        "autoEnd": request.auto_end,
        "services": request.services,
        "allowMethods": request.allow_methods,
        "bypass": request.bypass,
    }
    bypass = _issue(request.bypass)
    if request.request_id is None:  # nothing to recognise a retry by: every call is a new window
        record = maintenance.schedule(**_keywords(window), by=_actor(request), bypass_token=bypass.token)
        bypass.stored = bypass.token is not None
        return _answer(record, bypass)
    try:
        record = _schedule_once(settings().table_name, client("dynamodb"))(
            window={"requestId": request.request_id, **window}, by=_actor(request), bypass=bypass
        )
        return _answer(record, bypass)
    except IdempotencyAlreadyInProgressError:
        raise RequestInProgress(
            "the same schedule request is still being processed; retry in a few seconds"
        ) from None


@operations.route("maintenance-start", StartRequest)
def start(request: StartRequest) -> dict:
    bypass = _issue(request.bypass)
    record = maintenance.start(request.maintenance_id, _actor(request), bypass_token=bypass.token)
    bypass.stored = bypass.token is not None
    return _answer(record, bypass)


@operations.route("maintenance-update", UpdateRequest)
def update(request: UpdateRequest) -> dict:
    bypass = _issue(request.rotate_bypass)
    record = maintenance.update(request.text, _actor(request), rotate_bypass_token=bypass.token)
    bypass.stored = bypass.token is not None
    return _answer(record, bypass)


@operations.route("maintenance-end", EndRequest)
def end(request: EndRequest) -> dict:
    return maintenance.shown(maintenance.end(request.end_message, _actor(request)))


@operations.route("maintenance-cancel", WindowRequest)
def cancel(request: WindowRequest) -> dict:
    return maintenance.shown(maintenance.cancel(request.maintenance_id, _actor(request)))


@logger.inject_lambda_context(log_event=False, clear_state=True)  # the event carries the secret code
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context) -> dict:
    IDEMPOTENCY.register_lambda_context(context)
    return operations(event)
