"""Vacuum runs, as the CLI and the MCP server call them (``OpsClient.vacuum``).

Every call invokes the ``vacuum`` function directly and returns the vacuum record document
(docs/recap.md, "The vacuum record"); ``wait`` polls ``status`` until the run ends.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from g3n_ops.contract.statuses import VACUUM_FINAL
from g3n_ops_client.errors import OpsClientError

FUNCTION = "vacuum"
TERMINAL_STATUSES = VACUUM_FINAL
# A poll that met these got no news, not bad news: the run goes on; the next poll asks again.
TRANSIENT_CODES = frozenset({"aws-throttled", "aws-unavailable", "endpoint-unreachable"})


class VacuumOperations:
    def __init__(self, client) -> None:
        self.client = client

    def all(
        self,
        secret_code: str,
        reason: str,
        confirmation_phrase: str,
        dry_run: bool = False,
        dry_run_id: str | None = None,
        with_maintenance: bool = False,
    ) -> dict:
        """Request vacuum-all (every service table, bucket and log group of the stack).
        ``with_maintenance``: a maintenance window is open while the real run deletes (the
        services answer 503) and ends when the run ends, however it ends.

        ``requestId`` is fresh per call, so the invoke's own retries (and only those) get the
        first attempt's record back instead of ``vacuum-mutex-locked``."""
        return self.client.invoke(
            FUNCTION,
            "vacuum-all",
            secretCode=secret_code,
            reason=reason,
            confirmationPhrase=confirmation_phrase,
            dryRun=dry_run,
            dryRunId=dry_run_id,
            requestId=str(uuid.uuid4()),
            **({"withMaintenance": True} if with_maintenance else {}),
        )

    def org(
        self,
        secret_code: str,
        orgcode: str,
        reason: str,
        dry_run: bool = False,
        dry_run_id: str | None = None,
    ) -> dict:
        """Request vacuum-org (one organisation's data; users and sessions are kept). A real run
        binds to ``dry_run_id`` or, without it, the newest completed dry-run of the org."""
        return self.client.invoke(
            FUNCTION,
            "vacuum-org",
            secretCode=secret_code,
            orgcode=orgcode,
            reason=reason,
            dryRun=dry_run,
            dryRunId=dry_run_id,
            requestId=str(uuid.uuid4()),
        )

    def cancel(self, secret_code: str, vacuum_id: str) -> dict:
        """Cancel a pending run (nothing deleted) or a running one (it stops at its next
        checkpoint); ``vacuum-not-cancellable`` once it has ended."""
        return self.client.invoke(FUNCTION, "vacuum-cancel", secretCode=secret_code, vacuumId=vacuum_id)

    def resume(self, secret_code: str, vacuum_id: str) -> dict:
        """Continue a failed run from its stored cursors (``vacuum-not-resumable`` otherwise)."""
        return self.client.invoke(FUNCTION, "vacuum-resume", secretCode=secret_code, vacuumId=vacuum_id)

    def status(self, vacuum_id: str, slowest_units: bool = False) -> dict:
        """The record; once the run has ended (or with ``slowest_units``) also ``slowestUnits``:
        the five units that took longest, slowest first."""
        return self.client.invoke(
            FUNCTION, "vacuum-status", vacuumId=vacuum_id, withSlowestUnits=True if slowest_units else None
        )

    def list(
        self, status: str | None = None, limit: int | None = None, next_token: str | None = None
    ) -> dict:
        """``{"items": [run summaries, newest first], "nextToken": str | None}``."""
        return self.client.invoke(FUNCTION, "vacuum-list", status=status, limit=limit, nextToken=next_token)

    def events(self, vacuum_id: str, limit: int | None = None, next_token: str | None = None) -> dict:
        """The run's summary, ``events``: one page of its audit trail, oldest first (``limit``
        1..500, default 100), and ``nextToken`` for the next page (None on the last)."""
        return self.client.invoke(
            FUNCTION, "vacuum-events", vacuumId=vacuum_id, limit=limit, nextToken=next_token
        )

    def wait(
        self,
        vacuum_id: str,
        timeout: float = 600,
        poll: float = 1.0,
        on_update: Callable[[dict], None] | None = None,
    ) -> dict:
        """Poll until the run is completed, cancelled or failed; returns the final record. A poll
        that is throttled or meets a transient failure is skipped (a run lasts hours; one busy
        second of the account must not end the watch); any other error ends it."""
        deadline = time.monotonic() + timeout
        last = "not read yet"
        while True:
            try:
                record = self.status(vacuum_id)
            except OpsClientError as error:
                if error.code not in TRANSIENT_CODES:
                    raise
                last = f"unknown (the last poll met {error.code})"
            else:
                if on_update is not None:
                    on_update(record)
                if record["status"] in TERMINAL_STATUSES:
                    return record
                last = record["status"]
            if time.monotonic() + poll > deadline:
                raise OpsClientError("timeout", f"vacuum {vacuum_id} is still {last} after {timeout:g}s")
            time.sleep(poll)
