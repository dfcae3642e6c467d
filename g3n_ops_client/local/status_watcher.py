"""The local stand-in for the EventBridge rule on Step Functions "Execution Status Change".

moto does not emit EventBridge events for executions, so this watcher polls OPS's state machines,
and when an execution reaches a status the deployed rule matches (``events.EXECUTION_ENDED_OUTSIDE``)
it builds the same event document EventBridge would deliver and invokes the same function
(``execution-status``) through the local Lambda dispatcher, once per execution.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from g3n_ops.contract import events
from g3n_ops_client.local.lambda_runtime import LambdaDispatcher

log = logging.getLogger("g3n.local.status")
POLL_SECONDS = 0.5


def _iso(moment) -> str | None:
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(moment)


def _epoch_ms(moment) -> int | None:
    return int(moment.timestamp() * 1000) if isinstance(moment, datetime) else None


def event_document(described: dict, *, account: str, region: str) -> dict:
    """What EventBridge delivers for an execution status change (its documented shape)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": events.EXECUTION_STATUS_DETAIL_TYPE,
        "source": events.EXECUTION_STATUS_SOURCE,
        "account": account,
        "time": _iso(described.get("stopDate") or datetime.now(UTC)),
        "region": region,
        "resources": [described["executionArn"]],
        "detail": {
            "executionArn": described["executionArn"],
            "stateMachineArn": described["stateMachineArn"],
            "name": described.get("name"),
            "status": described["status"],
            "startDate": _epoch_ms(described.get("startDate")),
            "stopDate": _epoch_ms(described.get("stopDate")),
            "input": described.get("input"),
            "output": described.get("output"),
            "error": described.get("error"),
            "cause": described.get("cause"),
        },
    }


def matches_rule(document: dict, state_machine_arns: set[str]) -> bool:
    """The deployed rule's pattern (infra/constructs/monitoring.py builds it from the same names)."""
    detail = document["detail"]
    return (
        document["source"] == events.EXECUTION_STATUS_SOURCE
        and document["detail-type"] == events.EXECUTION_STATUS_DETAIL_TYPE
        and detail["status"] in events.EXECUTION_ENDED_OUTSIDE
        and detail["stateMachineArn"] in state_machine_arns
    )


class StatusWatcher:
    def __init__(
        self,
        *,
        sfn_client: Callable[[], object],
        state_machine_arns: Callable[[], set[str]],
        dispatcher: LambdaDispatcher,
        function_name: str,
        account: str,
        region: str,
    ) -> None:
        self._sfn = sfn_client
        self._arns = state_machine_arns
        self._dispatcher = dispatcher
        self._function_name = function_name
        self._account = account
        self._region = region
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._lock = threading.Lock()  # one sweep at a time (the thread, or a test's sweep())
        self._thread: threading.Thread | None = None
        self.delivered: list[dict] = []

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="g3n-local-status-watcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._thread = None

    @contextlib.contextmanager
    def paused(self):
        """No delivery inside the block (what a read-path test needs); resumes afterwards and
        delivers what ended meanwhile, as EventBridge would after a delay."""
        with self._lock:
            self._paused.set()
        try:
            yield
        finally:
            self._paused.clear()

    def suspend(self) -> None:
        """Stop delivering (a reset wipes everything); ``resume(forget=True)`` starts afresh."""
        with self._lock:
            self._paused.set()

    def resume(self, *, forget: bool) -> None:
        with self._lock:
            if forget:
                self._mark_all_seen()
            self._paused.clear()

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.sweep()
            except (ClientError, BotoCoreError) as error:  # the server is stopping or resetting
                log.debug("status sweep failed: %s", error)

    def _ended(self):
        sfn = self._sfn()
        for machine_arn in sorted(self._arns()):
            pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn)
            for page in pages:
                for execution in page["executions"]:
                    if execution["status"] != "RUNNING" and execution["executionArn"] not in self._seen:
                        yield execution

    def _mark_all_seen(self) -> None:
        with contextlib.suppress(ClientError, BotoCoreError):
            self._seen = {execution["executionArn"] for execution in self._ended()} | self._seen

    def sweep(self) -> int:
        """Deliver every newly ended execution the rule matches; returns how many were delivered."""
        delivered = 0
        with self._lock:
            if self._paused.is_set():
                return 0
            arns = self._arns()
            for execution in list(self._ended()):
                self._seen.add(execution["executionArn"])
                described = self._sfn().describe_execution(executionArn=execution["executionArn"])
                document = event_document(described, account=self._account, region=self._region)
                if not matches_rule(document, arns):
                    continue
                headers: dict = {}
                answer = self._dispatcher.invoke(self._function_name, json.dumps(document), headers)
                self.delivered.append({"event": document, "answer": json.loads(answer or b"null")})
                delivered += 1
        return delivered
