"""The maintenance guard: 503 while a window is active, cached reads, fail open, both adapters."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from g3n_maintenance_guard import (
    FAIL_OPEN_METRIC,
    MIN_RETRY_AFTER_SECONDS,
    OVERRUNNING_RETRY_AFTER_SECONDS,
    STALE_SERVED_METRIC,
    STATE_KEY,
    MaintenanceGuard,
    maintenance_guard,
    retry_after,
)
from g3n_ops.settings import settings
from g3n_ops.store import maintenance_state, table


def http_event(path: str) -> dict:
    """API Gateway HTTP API (payload 2.0)."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {},
        "requestContext": {"http": {"method": "GET", "path": path}, "stage": "$default"},
        "isBase64Encoded": False,
    }


def rest_event(path: str) -> dict:
    """API Gateway REST API (payload 1.0)."""
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "requestContext": {"stage": "prod", "httpMethod": "GET", "path": path, "resourcePath": path},
        "isBase64Encoded": False,
        "body": None,
    }


def put_state(state: dict) -> None:
    table.dynamodb().put_item(
        TableName=settings().table_name, Item=table.serialize(maintenance_state.item(state))
    )


def active(**overrides) -> dict:
    expected_end = datetime.now(UTC) + timedelta(seconds=120)
    state = {
        "active": True,
        "maintenanceId": "mw-20261201-3f2a9c1d",
        "description": "Database upgrade",
        "latestUpdate": {"text": "migrations running", "at": "2026-12-01T02:00:10.000Z"},
        "startedAt": "2026-12-01T02:00:00.000Z",
        "expectedEnd": expected_end.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "overrunning": False,
    }
    return {**state, **overrides}


pytestmark = pytest.mark.stack(seed=False)  # for the tests on a reset stack: the state item starts inactive


def counted_resource() -> tuple[object, list]:
    """A DynamoDB resource that counts the GetItem calls it sends."""
    resource = boto3.resource("dynamodb")
    calls: list[str] = []
    resource.meta.client.meta.events.register(
        "before-call.dynamodb.GetItem", lambda **_: calls.append("GetItem")
    )
    return resource, calls


def guarded_handler(guard: MaintenanceGuard):
    @maintenance_guard(guard=guard)
    def handler(event, context):
        return {"statusCode": 200, "body": json.dumps({"ok": True})}

    return handler


def test_no_window_passes_and_a_cache_hit_makes_no_aws_call(stack):
    resource, calls = counted_resource()
    handler = guarded_handler(MaintenanceGuard(settings().table_name, boto3_client=resource))
    for _ in range(5):
        assert handler(http_event("/orders"), None)["statusCode"] == 200
    assert calls == ["GetItem"]


def test_a_window_is_seen_when_the_cache_expires_not_before(stack):
    resource, calls, clock = *counted_resource(), FakeClock()
    handler = guarded_handler(
        MaintenanceGuard(settings().table_name, ttl_seconds=1, boto3_client=resource, clock=clock)
    )
    assert handler(http_event("/orders"), None)["statusCode"] == 200
    put_state(active())
    assert handler(http_event("/orders"), None)["statusCode"] == 200  # cached: still the old state
    assert len(calls) == 1
    clock.now += 1.1  # the TTL has passed
    assert handler(http_event("/orders"), None)["statusCode"] == 503
    assert len(calls) == 2


@pytest.mark.parametrize("event", [http_event("/orders/42"), rest_event("/orders/42")], ids=["http", "rest"])
def test_an_active_window_answers_503_with_retry_after_and_the_window(stack, event):
    state = active()
    began = time.monotonic()
    put_state(state)
    response = guarded_handler(MaintenanceGuard(settings().table_name))(event, None)
    waited = time.monotonic() - began  # a loaded machine can take seconds to build a client
    assert response["statusCode"] == 503
    assert 115 - waited <= int(response["headers"]["Retry-After"]) <= 120
    body = json.loads(response["body"])
    assert body["maintenanceId"] == "mw-20261201-3f2a9c1d"
    assert body["latestUpdate"]["text"] == "migrations running"
    assert body["expectedEnd"] == state["expectedEnd"]
    assert "Database upgrade" in body["message"]


@pytest.mark.parametrize("path", ["/ping", "/stat", "/ping/"])
def test_ping_and_stat_are_never_blocked(stack, path):
    put_state(active())
    assert (
        guarded_handler(MaintenanceGuard(settings().table_name))(http_event(path), None)["statusCode"] == 200
    )


@pytest.mark.parametrize(
    ("resolver", "event"),
    [(APIGatewayHttpResolver, http_event), (APIGatewayRestResolver, rest_event)],
    ids=["http", "rest"],
)
def test_event_handler_middleware(stack, resolver, event):
    app = resolver()
    app.use(middlewares=[MaintenanceGuard(settings().table_name).middleware])

    @app.get("/orders")
    def orders():
        return {"orders": []}

    @app.get("/ping")
    def ping():
        return {"status": "ok"}

    assert app.resolve(event("/orders"), None)["statusCode"] == 200
    put_state(active(overrunning=True))
    app_after = resolver()  # a fresh guard (its own cache) sees the window at once
    app_after.use(middlewares=[MaintenanceGuard(settings().table_name).middleware])
    app_after.get("/orders")(orders)
    app_after.get("/ping")(ping)
    blocked = app_after.resolve(event("/orders"), None)
    assert blocked["statusCode"] == 503
    headers = blocked.get("headers") or {}
    multi = blocked.get("multiValueHeaders") or {}
    assert headers.get("Retry-After", (multi.get("Retry-After") or [None])[0]) == str(
        OVERRUNNING_RETRY_AFTER_SECONDS
    )
    assert json.loads(blocked["body"])["maintenanceId"] == "mw-20261201-3f2a9c1d"
    assert app_after.resolve(event("/ping"), None)["statusCode"] == 200


def test_unreachable_table_fails_open_with_a_warning_and_a_metric(capsys, caplog):
    unreachable = boto3.resource(
        "dynamodb",
        endpoint_url="http://127.0.0.1:9",  # nothing listens on the discard port
        config=Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 1}),
    )
    calls: list[str] = []
    unreachable.meta.client.meta.events.register(
        "before-call.dynamodb.GetItem", lambda **_: calls.append("x")
    )
    handler = guarded_handler(MaintenanceGuard("g3n-local-ops", boto3_client=unreachable, service="cat"))
    capsys.readouterr()
    assert handler(http_event("/orders"), None)["statusCode"] == 200
    assert handler(http_event("/orders"), None)["statusCode"] == 200  # backing off: no second attempt
    assert len(calls) == 1
    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if FAIL_OPEN_METRIC in line]
    assert len(metrics) == 1
    emf = metrics[0]
    assert emf[FAIL_OPEN_METRIC] == [1.0]
    assert emf["service"] == "cat"
    assert emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "G3nMaintenanceGuard"
    assert any(
        "fail open" in record.getMessage() for record in caplog.records if record.levelname == "WARNING"
    )


def test_no_table_configured_fails_open(monkeypatch, capsys):
    monkeypatch.delenv("G3N_OPS_TABLE_NAME", raising=False)
    assert guarded_handler(MaintenanceGuard())(http_event("/orders"), None)["statusCode"] == 200
    assert FAIL_OPEN_METRIC in capsys.readouterr().out


def test_retry_after():
    moment = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    state = {"expectedEnd": "2026-12-01T02:10:00.000Z", "overrunning": False}
    assert retry_after(state, moment=moment) == 600
    assert (
        retry_after({**state, "expectedEnd": "2026-12-01T02:00:01.000Z"}, moment=moment)
        == MIN_RETRY_AFTER_SECONDS
    )
    assert retry_after({**state, "overrunning": True}, moment=moment) == OVERRUNNING_RETRY_AFTER_SECONDS
    assert (
        retry_after({**state, "expectedEnd": "2026-12-01T01:00:00Z"}, moment=moment)
        == OVERRUNNING_RETRY_AFTER_SECONDS
    )


def test_the_bare_decorator_and_guard_handler_read_the_table_from_the_environment(stack, monkeypatch):
    from g3n_maintenance_guard import guard as guard_module

    monkeypatch.setattr(guard_module, "_default_guard", None)  # a fresh per-process guard
    put_state(active())

    @maintenance_guard
    def plain(event, context):
        return {"statusCode": 200, "body": "{}"}

    @MaintenanceGuard().handler
    def method(event, context):
        return {"statusCode": 200, "body": "{}"}

    assert plain(http_event("/orders"), None)["statusCode"] == 503
    assert method(rest_event("/orders"), None)["statusCode"] == 503


# -- stale-while-error ----------------------------------------------------------------------------
class FlakyTable:
    """A DynamoDB resource on the local stack whose GetItem calls are counted and can be made to
    fail the way an unreachable table does (before anything is sent)."""

    def __init__(self) -> None:
        self.calls = 0
        self.failing = False
        self.resource = boto3.resource("dynamodb")
        events = self.resource.meta.client.meta.events
        events.register("before-call.dynamodb.GetItem", self._count)
        events.register("before-send.dynamodb.GetItem", self._maybe_fail)

    def _count(self, **_) -> None:
        self.calls += 1

    def _maybe_fail(self, request, **_) -> None:
        if self.failing:
            raise EndpointConnectionError(endpoint_url=request.url)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def emitted(capsys, metric: str) -> int:
    """How many EMF lines for ``metric`` were printed since the last look."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    return sum(1 for line in lines if metric in line)


def status(handler) -> int:
    return handler(http_event("/orders"), None)["statusCode"]


def test_a_failing_read_serves_the_last_state_for_three_ttls_then_fails_open(state_item, capsys, caplog):
    put_state(active())
    flaky, clock = FlakyTable(), FakeClock()
    guard = MaintenanceGuard(
        settings().table_name, ttl_seconds=10, boto3_client=flaky.resource, clock=clock, service="ord"
    )
    handler = guarded_handler(guard)
    assert status(handler) == 503 and flaky.calls == 1
    capsys.readouterr()

    flaky.failing = True
    clock.now += 10.5  # the cached state expired: the read fails, the last state still answers
    assert status(handler) == 503
    assert flaky.calls == 2
    assert emitted(capsys, STALE_SERVED_METRIC) == 1
    assert any("stale-while-error" in record.getMessage() for record in caplog.records)
    clock.now += 4  # backing off: no read, no metric, still the last state
    assert status(handler) == 503 and flaky.calls == 2
    clock.now += 15.5  # 30 s after the good read = 3 TTLs: the last moment the state may be served
    assert status(handler) == 503 and flaky.calls == 3
    assert emitted(capsys, STALE_SERVED_METRIC) == 1 and emitted(capsys, FAIL_OPEN_METRIC) == 0

    clock.now += 0.1  # past 3 TTLs: fail open, counted in its own metric
    assert status(handler) == 200 and flaky.calls == 4
    out = capsys.readouterr().out
    assert FAIL_OPEN_METRIC in out and STALE_SERVED_METRIC not in out
    emf = json.loads(next(line for line in out.splitlines() if FAIL_OPEN_METRIC in line))
    assert (
        emf["service"] == "ord" and emf["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "G3nMaintenanceGuard"
    )
    assert any("fail open" in record.getMessage() for record in caplog.records)
    clock.now += 1  # failing open, backing off: no read on every request
    assert status(handler) == 200 and flaky.calls == 4

    # Recovery: the next read after the back-off succeeds and the window is enforced again.
    flaky.failing = False
    clock.now += 5
    assert status(handler) == 503 and flaky.calls == 5
    assert emitted(capsys, FAIL_OPEN_METRIC) == 0
    assert any("readable again" in record.getMessage() for record in caplog.records)


def test_a_window_ending_while_reads_fail_is_seen_after_recovery_not_before(state_item, capsys):
    put_state(active())
    flaky, clock = FlakyTable(), FakeClock()
    handler = guarded_handler(
        MaintenanceGuard(settings().table_name, ttl_seconds=10, boto3_client=flaky.resource, clock=clock)
    )
    assert status(handler) == 503
    put_state({"active": False})
    flaky.failing = True
    clock.now += 11
    assert status(handler) == 503  # stale: the guard cannot know the window ended
    flaky.failing = False
    clock.now += 5
    assert status(handler) == 200
    assert emitted(capsys, FAIL_OPEN_METRIC) == 0


def test_a_missing_state_item_is_no_maintenance_not_a_fail_open(state_item, capsys, caplog):
    put_state(active())
    flaky, clock = FlakyTable(), FakeClock()
    handler = guarded_handler(
        MaintenanceGuard(settings().table_name, ttl_seconds=10, boto3_client=flaky.resource, clock=clock)
    )
    assert status(handler) == 503
    table.dynamodb().delete_item(TableName=settings().table_name, Key={"pk": {"S": STATE_KEY}})
    capsys.readouterr()
    clock.now += 10
    assert status(handler) == 200  # read, found nothing: no window (not the stale one)
    assert status(handler) == 200 and flaky.calls == 2  # and that is cached like any state
    out = capsys.readouterr().out
    assert FAIL_OPEN_METRIC not in out and STALE_SERVED_METRIC not in out
    assert not [record for record in caplog.records if record.levelname == "WARNING"]


def test_a_malformed_state_item_is_a_failed_read(state_item, capsys):
    put_state(active())
    flaky, clock = FlakyTable(), FakeClock()
    handler = guarded_handler(
        MaintenanceGuard(settings().table_name, ttl_seconds=10, boto3_client=flaky.resource, clock=clock)
    )
    assert status(handler) == 503
    table.dynamodb().put_item(
        TableName=settings().table_name, Item={"pk": {"S": STATE_KEY}, "value": {"S": "[1, 2]"}}
    )
    capsys.readouterr()
    clock.now += 10
    assert status(handler) == 503  # served stale, not read as "no maintenance"
    assert emitted(capsys, STALE_SERVED_METRIC) == 1


def test_cached_decisions_make_no_aws_call_in_any_state(state_item):
    put_state(active())
    flaky, clock = FlakyTable(), FakeClock()
    guard = MaintenanceGuard(settings().table_name, ttl_seconds=10, boto3_client=flaky.resource, clock=clock)
    handler = guarded_handler(guard)
    for _ in range(50):
        assert status(handler) == 503
    clock.now += 9.9
    assert status(handler) == 503
    assert flaky.calls == 1
    flaky.failing = True
    clock.now += 0.2
    for _ in range(50):
        assert status(handler) == 503  # stale-while-error: one failed read, then the cached decision
    assert flaky.calls == 2


def test_retry_after_counts_down_from_the_cached_decision(state_item):
    put_state(active())  # expected end ~120 s from now
    clock = FakeClock()
    guard = MaintenanceGuard(settings().table_name, ttl_seconds=20, clock=clock)
    first = int(guard.unavailable("/orders")[0]["Retry-After"])
    clock.now += 15
    later = int(guard.unavailable("/orders")[0]["Retry-After"])
    assert 115 <= first <= 120 and later == first - 15


def test_the_503_links_the_status_page_when_one_is_configured(state_item, monkeypatch):
    put_state(active())
    url = "https://status.example.com/status"
    monkeypatch.setenv("G3N_OPS_STATUS_URL", url)
    response = guarded_handler(MaintenanceGuard(settings().table_name))(http_event("/orders"), None)
    assert response["headers"]["Link"] == f'<{url}>; rel="status"'
    body = json.loads(response["body"])
    assert body["statusPage"] == url and url in body["message"]

    app = APIGatewayRestResolver()
    app.use(middlewares=[MaintenanceGuard(settings().table_name, status_url=url + "?from=ord").middleware])
    app.get("/orders")(lambda: {"orders": []})
    blocked = app.resolve(rest_event("/orders"), None)
    link = (blocked.get("headers") or {}).get("Link") or blocked["multiValueHeaders"]["Link"][0]
    assert link == f'<{url}?from=ord>; rel="status"'

    monkeypatch.delenv("G3N_OPS_STATUS_URL")
    plain = guarded_handler(MaintenanceGuard(settings().table_name))(http_event("/orders"), None)
    assert "Link" not in plain["headers"] and "statusPage" not in json.loads(plain["body"])
