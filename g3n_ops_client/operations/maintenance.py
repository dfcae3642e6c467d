"""Maintenance windows, as the CLI and the MCP server call them (``OpsClient.maintenance``).

Reads go through the HTTP API; changes invoke the ``maintenance`` function directly. Each call
returns the maintenance record document (``list`` returns a page of them).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from urllib.parse import quote

FUNCTION = "maintenance"


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
        self, secret_code: str, description: str, duration: int, start: str | datetime, auto_end: bool = False
    ) -> dict:
        """A new scheduled window. ``requestId`` is fresh per call, so the invoke's own retries
        (and only those) return the first attempt's record instead of a second window."""
        return self.client.invoke(
            FUNCTION,
            "maintenance-schedule",
            secretCode=secret_code,
            description=description,
            duration=duration,
            start=start.isoformat() if isinstance(start, datetime) else start,
            autoEnd=auto_end,
            requestId=str(uuid.uuid4()),
        )

    def start(self, secret_code: str, maintenance_id: str) -> dict:
        return self.client.invoke(
            FUNCTION, "maintenance-start", secretCode=secret_code, maintenanceId=maintenance_id
        )

    def update(self, secret_code: str, text: str) -> dict:
        """Post an update on the active window."""
        return self.client.invoke(FUNCTION, "maintenance-update", secretCode=secret_code, text=text)

    def end(self, secret_code: str, end_message: str) -> dict:
        """End the active window."""
        return self.client.invoke(FUNCTION, "maintenance-end", secretCode=secret_code, endMessage=end_message)

    def cancel(self, secret_code: str, maintenance_id: str) -> dict:
        return self.client.invoke(
            FUNCTION, "maintenance-cancel", secretCode=secret_code, maintenanceId=maintenance_id
        )
