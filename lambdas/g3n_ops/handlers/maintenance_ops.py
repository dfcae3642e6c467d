"""Direct-invoke maintenance operations: schedule, start, update, end, cancel.

The router verifies the secret code before any of these runs. ``maintenance-schedule`` is
idempotent on the caller's ``requestId`` plus the window's fields (never the secret code): a
retried invoke returns the first call's record instead of creating a second window.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Literal

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError
from pydantic import Field

from g3n_ops.aws import client
from g3n_ops.domain import maintenance
from g3n_ops.errors import RequestInProgress
from g3n_ops.handlers.operations import Operations
from g3n_ops.models import MaintenanceId, Request, SecretRequest
from g3n_ops.observability import logger, metrics, tracer
from g3n_ops.settings import settings

operations = Operations()

# A client retries within seconds; an hour also covers an operator re-running the same command.
IDEMPOTENCY = IdempotencyConfig(expires_after_seconds=3600)
# Generous caps against absurd payloads; the domain enforces the real limits with clear messages.
_TEXT = Field(max_length=4 * maintenance.MAX_TEXT_LENGTH)


class ScheduleRequest(SecretRequest):
    operation: Literal["maintenance-schedule"]
    description: str = Field(max_length=4 * maintenance.MAX_DESCRIPTION_LENGTH)
    duration: int
    start: str = Field(max_length=64)
    auto_end: bool = Field(default=False, alias="autoEnd")


class WindowRequest(SecretRequest):
    operation: Literal["maintenance-start", "maintenance-cancel"]
    maintenance_id: MaintenanceId


class UpdateRequest(SecretRequest):
    operation: Literal["maintenance-update"]
    text: str = _TEXT


class EndRequest(SecretRequest):
    operation: Literal["maintenance-end"]
    end_message: str = Field(alias="endMessage", max_length=4 * maintenance.MAX_TEXT_LENGTH)


def _actor(request: Request) -> maintenance.Actor:
    return maintenance.Actor(source=request.source, actor=request.actor)


def _keywords(window: dict) -> dict:
    return {
        "description": window["description"],
        "duration": window["duration"],
        "start": window["start"],
        "auto_end": window["autoEnd"],
    }


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
    def schedule(*, window: dict, by: maintenance.Actor) -> dict:
        return maintenance.schedule(**_keywords(window), by=by)

    return schedule


@operations.route("maintenance-schedule", ScheduleRequest)
def schedule(request: ScheduleRequest) -> dict:
    window = {
        "description": request.description,
        "duration": request.duration,
        "start": request.start,
        "autoEnd": request.auto_end,
    }
    if request.request_id is None:  # nothing to recognise a retry by: every call is a new window
        return maintenance.schedule(**_keywords(window), by=_actor(request))
    try:
        return _schedule_once(settings().table_name, client("dynamodb"))(
            window={"requestId": request.request_id, **window}, by=_actor(request)
        )
    except IdempotencyAlreadyInProgressError:
        raise RequestInProgress(
            "the same schedule request is still being processed; retry in a few seconds"
        ) from None


@operations.route("maintenance-start", WindowRequest)
def start(request: WindowRequest) -> dict:
    return maintenance.start(request.maintenance_id, _actor(request))


@operations.route("maintenance-update", UpdateRequest)
def update(request: UpdateRequest) -> dict:
    return maintenance.update(request.text, _actor(request))


@operations.route("maintenance-end", EndRequest)
def end(request: EndRequest) -> dict:
    return maintenance.end(request.end_message, _actor(request))


@operations.route("maintenance-cancel", WindowRequest)
def cancel(request: WindowRequest) -> dict:
    return maintenance.cancel(request.maintenance_id, _actor(request))


@logger.inject_lambda_context(log_event=False)  # the event carries the secret code
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict, context) -> dict:
    IDEMPOTENCY.register_lambda_context(context)
    return operations(event)
