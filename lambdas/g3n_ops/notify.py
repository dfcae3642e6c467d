"""Lifecycle notifications: one SNS topic carries every maintenance, vacuum and lockout event.

Each message is one JSON envelope (``ENVELOPE_VERSION``)::

    {"version": 1, "type": "vacuum.completed", "time": "...Z", "stage": "dev", "source": "g3n-ops",
     "ids": {"vacuumId": "..."}, "detail": {...}}

with the type also as the message attribute ``eventType`` (for subscription filter policies).

Publishing is best effort: the action it reports has already happened, so a failed publish is
logged and counted (``NotificationFailed``) and never raised, and a slow SNS costs at most the
client's short timeouts. No secret ever reaches a message: keys that look like one are dropped
from the detail before it is sent.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from g3n_ops.contract.events import ENVELOPE_VERSION, MAINTENANCE_EVENTS, VACUUM_EVENTS
from g3n_ops.contract.metrics import Metric
from g3n_ops.contract.timestamps import iso, utc_now
from g3n_ops.observability import SERVICE, logger, metrics
from g3n_ops.settings import settings

# One attempt, short timeouts: a notification must not hold the operation it reports.
_CONFIG = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 1})
ID_FIELDS = ("vacuumId", "maintenanceId", "dryRunId", "executionArn")
# Anything named like a credential is dropped, whatever the caller passed.
_SECRET_KEY = re.compile(r"secret|password|hash|salt|token", re.IGNORECASE)
MAX_MESSAGE_BYTES = 250_000  # SNS takes 256 KB


_client = None
_lock = threading.Lock()


def _sns():
    global _client
    with _lock:
        if _client is None:
            _client = boto3.session.Session().client("sns", config=_CONFIG)
        return _client


def reset_client() -> None:
    """Forget the client (the local stack calls this when its endpoint changes)."""
    global _client
    with _lock:
        _client = None


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _scrub(inner) for key, inner in value.items() if not _SECRET_KEY.search(str(key))}
    if isinstance(value, list | tuple):
        return [_scrub(inner) for inner in value]
    return value


def envelope(event_type: str, detail: dict) -> dict:
    detail = _scrub(detail)
    return {
        "version": ENVELOPE_VERSION,
        "type": event_type,
        "time": iso(utc_now()),
        "stage": settings().stage,
        "source": SERVICE,
        "ids": {name: detail[name] for name in ID_FIELDS if detail.get(name)},
        "detail": detail,
    }


def publish(event_type: str, detail: dict) -> bool:
    """Send one event to the topic; True if SNS took it. Never raises."""
    topic = settings().events_topic_arn
    if not topic:
        return False
    try:
        message = json.dumps(envelope(event_type, detail), default=str, sort_keys=True)
        if len(message.encode()) > MAX_MESSAGE_BYTES:
            trimmed = {name: detail.get(name) for name in (*ID_FIELDS, "action", "status") if name in detail}
            message = json.dumps(envelope(event_type, {**trimmed, "truncated": True}), default=str)
        _sns().publish(
            TopicArn=topic,
            Message=message,
            MessageAttributes={"eventType": {"DataType": "String", "StringValue": event_type}},
        )
        return True
    except (ClientError, BotoCoreError, TypeError, ValueError) as error:
        logger.warning("notification not published", extra={"eventType": event_type, "error": str(error)})
        metrics.add_metric(name=Metric.NOTIFICATION_FAILED, unit="Count", value=1)
        return False


def maintenance_event(line: dict) -> bool:
    """Publish a maintenance audit line as its lifecycle event."""
    action = str(line.get("action"))
    return publish(MAINTENANCE_EVENTS.get(action, f"maintenance.{action}"), line)


def vacuum_event(entry: dict) -> bool:
    """Publish a vacuum audit entry if its action is a lifecycle event (unit progress is not)."""
    event_type = VACUUM_EVENTS.get(str(entry.get("action")))
    return publish(event_type, entry) if event_type else False
