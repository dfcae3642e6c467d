"""The maintenance audit trail: one JSON line per lifecycle action in CloudWatch Logs.

Group ``settings().maintenance_audit_log_group``; one stream per UTC day (``YYYY/MM/DD``), so a
day's actions read in order and no stream grows without bound (``gateways/audit_log.py`` writes).

The line carries what happened, to which window, when, and who asked. Callers pass only
record fields and request metadata, never a request, so the secret code cannot reach it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from g3n_ops import notify
from g3n_ops.contract.metrics import Metric
from g3n_ops.gateways import audit_log
from g3n_ops.observability import logger, metrics
from g3n_ops.settings import settings


def stream_name(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y/%m/%d")


def write(line: dict) -> None:
    """Append one audit line. An audit failure is logged and counted, not raised: the action it
    describes has already happened, and failing the call would invite a retry of a done thing."""
    notify.maintenance_event(line)
    group = settings().maintenance_audit_log_group
    stream = stream_name(datetime.now(UTC))
    text = json.dumps({"stage": settings().stage, **line}, sort_keys=True, default=str)
    try:
        audit_log.append(group, stream, text)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            _report(error, line)
            return
        # The stream vanished (or was never there although we thought so): create it and retry once.
        audit_log.forget(group, stream)
        try:
            audit_log.append(group, stream, text)
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
