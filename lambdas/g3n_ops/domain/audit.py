"""The maintenance audit trail: one JSON line per lifecycle action in CloudWatch Logs.

Group ``settings().maintenance_audit_log_group``; one stream per UTC day (``YYYY/MM/DD``), so a
day's actions read in order and no stream grows without bound. PutLogEvents needs no sequence
token any more, so concurrent writers share a stream safely.

The line carries what happened, to which window, when, and who asked. Callers pass only
record fields and request metadata, never a request, so the secret code cannot reach it.
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from g3n_ops import notify
from g3n_ops.aws import client
from g3n_ops.contract.metrics import Metric
from g3n_ops.observability import logger, metrics
from g3n_ops.settings import settings

_known_streams: set[tuple[str, str]] = set()


def stream_name(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y/%m/%d")


def _put(group: str, stream: str, line: str) -> None:
    logs = client("logs")
    event = {"timestamp": int(time.time() * 1000), "message": line}
    if (group, stream) not in _known_streams:
        # Another writer may have created today's stream first: that is fine.
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_stream(logGroupName=group, logStreamName=stream)
        _known_streams.add((group, stream))
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[event])


def write(line: dict) -> None:
    """Append one audit line. An audit failure is logged and counted, not raised: the action it
    describes has already happened, and failing the call would invite a retry of a done thing."""
    notify.maintenance_event(line)
    group = settings().maintenance_audit_log_group
    stream = stream_name(datetime.now(UTC))
    text = json.dumps({"stage": settings().stage, **line}, sort_keys=True, default=str)
    try:
        _put(group, stream, text)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            _report(error, line)
            return
        # The stream vanished (or was never there although we thought so): create it and retry once.
        _known_streams.discard((group, stream))
        try:
            _put(group, stream, text)
        except (ClientError, BotoCoreError) as retry_error:
            _report(retry_error, line)
    except BotoCoreError as error:
        _report(error, line)


def _report(error: Exception, line: dict) -> None:
    logger.error(
        "maintenance audit line not written",
        extra={"action": line.get("action"), "maintenanceId": line.get("maintenanceId"), "error": str(error)},
    )
    metrics.add_metric(name=Metric.MAINTENANCE_AUDIT_WRITE_FAILED, unit="Count", value=1)
