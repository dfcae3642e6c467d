"""Maintenance windows, as the CLI and the MCP server call them (``OpsClient.maintenance``).

Reads go through the HTTP API; changes invoke the ``maintenance`` function directly. Each call
returns the maintenance record document (``list`` returns a page of them).

``services`` (codes, default all API services) and ``allow_methods`` (e.g. ``["GET", "HEAD"]``:
read-only maintenance) narrow a window. ``bypass=True`` (schedule, start) and
``rotate_bypass=True`` (update) issue an operator bypass token: the answer carries it as
``bypassToken``, the only time it is ever shown; send it as ``X-G3N-Maintenance-Bypass``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import quote

FUNCTION = "maintenance"
BYPASS_HEADER = "X-G3N-Maintenance-Bypass"


def _listed(values: Iterable[str] | str | None) -> list[str] | None:
    """``"pay,ord"`` or an iterable of codes as a list (the server trims, dedupes and checks it)."""
    if values is None:
        return None
    return values.split(",") if isinstance(values, str) else list(values)


class MaintenanceOperations:
    def __init__(self, client) -> None:
        self.client = client

    def list(
        self, status: str | None = None, limit: int | None = None, next_token: str | None = None
    ) -> dict:
        """``{"items": [...records, newest first], "nextToken": str | None}``."""
        return self.client.get("/maintenance", status=status, limit=limit, nextToken=next_token)

    def get(self, maintenance_id: str) -> dict:
        return self.client.get(f"/maintenance/{quote(maintenance_id, safe='')}")

    def schedule(
        self,
        secret_code: str,
        description: str,
        duration: int,
        start: str | datetime,
        auto_end: bool = False,
        *,
        services: Iterable[str] | str | None = None,
        allow_methods: Iterable[str] | str | None = None,
        bypass: bool = False,
    ) -> dict:
        """A new scheduled window. ``requestId`` is fresh per call, so the invoke's own retries
        (and only those) return the first attempt's record instead of a second window (with
        ``bypassToken: null``: a token is shown only by the call that stored it)."""
        return self.client.invoke(
            FUNCTION,
            "maintenance-schedule",
            secretCode=secret_code,
            description=description,
            duration=duration,
            start=start.isoformat() if isinstance(start, datetime) else start,
            autoEnd=auto_end,
            services=_listed(services),
            allowMethods=_listed(allow_methods),
            bypass=True if bypass else None,
            requestId=str(uuid.uuid4()),
        )

    def start(self, secret_code: str, maintenance_id: str, *, bypass: bool = False) -> dict:
        return self.client.invoke(
            FUNCTION,
            "maintenance-start",
            secretCode=secret_code,
            maintenanceId=maintenance_id,
            bypass=True if bypass else None,
        )

    def update(self, secret_code: str, text: str | None = None, *, rotate_bypass: bool = False) -> dict:
        """Post an update on the active window, and/or rotate its operator bypass."""
        return self.client.invoke(
            FUNCTION,
            "maintenance-update",
            secretCode=secret_code,
            text=text,
            rotateBypass=True if rotate_bypass else None,
        )

    def end(self, secret_code: str, end_message: str) -> dict:
        """End the active window."""
        return self.client.invoke(FUNCTION, "maintenance-end", secretCode=secret_code, endMessage=end_message)

    def cancel(self, secret_code: str, maintenance_id: str) -> dict:
        return self.client.invoke(
            FUNCTION, "maintenance-cancel", secretCode=secret_code, maintenanceId=maintenance_id
        )
