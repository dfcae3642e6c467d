"""The guard's narrower windows, from the state item it already reads: an operator bypass header,
methods that still pass (read-only maintenance), a window on some services. Hostile headers get
the very same 503 as no header; none of it costs a read."""

from __future__ import annotations

import hashlib
import json

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, APIGatewayRestResolver

from g3n_maintenance_guard import (
    BYPASS_HEADER,
    BYPASS_METRIC,
    BYPASS_METRIC_SECONDS,
    MAX_BYPASS_TOKEN_LENGTH,
    MaintenanceGuard,
)
from g3n_ops.domain import maintenance
from g3n_ops.settings import settings
from tests.unit.test_guard import (
    FakeClock,
    FlakyTable,
    active,
    emitted,
    guarded_handler,
    http_event,
    put_state,
    rest_event,
)

TOKEN = "Zq3v9yK8bX1r_Tn4-Wm0pLd7Hs2Jf6Gc5Ve8Ua1Qb3"  # the shape OPS issues: 43 URL-safe characters


def with_bypass(**overrides) -> dict:
    return active(bypassSha256=hashlib.sha256(TOKEN.encode()).hexdigest(), **overrides)


def request(handler, *, method: str = "GET", headers: dict | None = None, rest: bool = False) -> dict:
    event = rest_event("/orders") if rest else http_event("/orders")
    event["headers"] = dict(headers or {})
    if rest:
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
    else:
        event["requestContext"]["http"]["method"] = method
    return handler(event, None)


def answer(response: dict) -> tuple[int, str | None, dict]:
    headers = {k: v for k, v in (response.get("headers") or {}).items() if k != "Retry-After"}
    return response["statusCode"], response.get("body"), headers


def guard_on(flaky: FlakyTable, clock: FakeClock, **options) -> MaintenanceGuard:
    return MaintenanceGuard(
        settings().table_name, ttl_seconds=20, boto3_client=flaky.resource, clock=clock, **options
    )


def test_the_bypass_header_passes_and_every_other_value_gets_the_same_503(state_item, capsys):
    put_state(with_bypass())
    flaky, clock = FlakyTable(), FakeClock()
    handler = guarded_handler(guard_on(flaky, clock, service="ord"))
    refused = answer(request(handler))
    assert refused[0] == 503
    assert request(handler, headers={BYPASS_HEADER.lower(): TOKEN})["statusCode"] == 200
    assert request(handler, headers={BYPASS_HEADER: TOKEN})["statusCode"] == 200
    # The header's name in any casing is the header (HTTP); the token's value is not case-blind.
    assert request(handler, headers={"x-G3N-maintenance-BYPASS": TOKEN}, rest=True)["statusCode"] == 200
    hostile = [
        TOKEN.upper(),
        TOKEN.lower(),
        TOKEN[:-1],
        TOKEN + "x",
        f" {TOKEN}x",
        f"{TOKEN},{TOKEN}",  # two values joined, as API Gateway joins repeated headers
        "",
        "A" * (MAX_BYPASS_TOKEN_LENGTH + 1),
        TOKEN + "\u00e9" * 10_000,  # oversized and not ASCII: refused unread
        "\ud800" + TOKEN,  # a lone surrogate (not encodable): refused, not an exception
        hashlib.sha256(TOKEN.encode()).hexdigest(),  # the digest itself is not the token
        "\x00" * 43,
    ]
    for value in hostile:
        assert answer(request(handler, headers={BYPASS_HEADER.lower(): value})) == refused, value
    for odd in ([TOKEN], {"token": TOKEN}, 42, None):  # a malformed event: not a string at all
        assert answer(request(handler, headers={BYPASS_HEADER.lower(): odd})) == refused
    event = http_event("/orders")
    event["headers"] = None
    assert answer(handler(event, None)) == refused
    assert flaky.calls == 1  # all of it from the one read


def test_a_wrong_or_expired_token_is_no_oracle(state_item):
    """Wrong, expired (window ended or token rotated) and absent: the same status, body, headers."""
    window = with_bypass()
    put_state(window)
    clock = FakeClock()
    handler = guarded_handler(guard_on(FlakyTable(), clock))
    none = answer(request(handler))
    wrong = answer(request(handler, headers={BYPASS_HEADER: "W" * 43}))
    assert none == wrong and TOKEN not in json.dumps(none)
    assert "bypass" not in none[1].lower()  # the 503 does not even say a bypass exists
    rotated = hashlib.sha256(b"the-next-token").hexdigest()
    put_state({**window, "bypassSha256": rotated})
    clock.now += 21
    assert answer(request(handler, headers={BYPASS_HEADER: TOKEN})) == none  # rotated: void
    put_state({"active": False})
    clock.now += 21
    assert request(handler, headers={BYPASS_HEADER: TOKEN})["statusCode"] == 200  # no window at all
    put_state({**window, "bypassSha256": None})  # a window without a bypass: the old token is nothing
    clock.now += 21
    assert answer(request(handler, headers={BYPASS_HEADER: TOKEN})) == none


def test_a_malformed_digest_on_the_state_means_no_bypass(state_item):
    for digest in ("not-hex" * 9 + "x", "ab" * 31, 42, ["x"], None):
        put_state(active(bypassSha256=digest))
        handler = guarded_handler(MaintenanceGuard(settings().table_name, ttl_seconds=0))
        assert request(handler, headers={BYPASS_HEADER: TOKEN})["statusCode"] == 503


def test_bypassed_requests_are_counted_per_service_in_batches(state_item, capsys):
    put_state(with_bypass())
    clock = FakeClock()
    handler = guarded_handler(guard_on(FlakyTable(), clock, service="pay"))
    capsys.readouterr()
    for _ in range(5):
        assert request(handler, headers={BYPASS_HEADER: TOKEN})["statusCode"] == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [(line[BYPASS_METRIC], line["service"]) for line in lines] == [([1], "pay")]  # the first at once
    clock.now += BYPASS_METRIC_SECONDS
    assert request(handler, headers={BYPASS_HEADER: TOKEN})["statusCode"] == 200
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [line[BYPASS_METRIC] for line in lines] == [[5]]  # the 4 held back plus this one
    assert request(handler, headers={BYPASS_HEADER: TOKEN})["statusCode"] == 200
    clock.now += 21  # the next read flushes what is held
    request(handler)
    assert emitted(capsys, BYPASS_METRIC) == 1
    request(handler, headers={BYPASS_HEADER: "wrong"})
    assert emitted(capsys, BYPASS_METRIC) == 0  # a refused token is not a bypass


def test_a_read_only_window_lets_its_methods_through(state_item):
    put_state(active(allowMethods=["GET", "HEAD"]))
    flaky, clock = FlakyTable(), FakeClock()
    handler = guarded_handler(guard_on(flaky, clock))
    for method in ("GET", "HEAD"):
        assert request(handler, method=method)["statusCode"] == 200
        assert request(handler, method=method, rest=True)["statusCode"] == 200
    for method in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get", "", "G" * 10_000):
        blocked = request(handler, method=method)
        assert blocked["statusCode"] == 503, method
        body = json.loads(blocked["body"])
        assert "read-only maintenance" in body["message"] and "GET, HEAD" in body["message"]
        assert body["mode"] == "read-only" and body["allowMethods"] == ["GET", "HEAD"]
    assert flaky.calls == 1
    put_state(active(allowMethods=["FROB", 7]))  # nothing the guard knows: nothing passes
    handler = guarded_handler(MaintenanceGuard(settings().table_name, ttl_seconds=0))
    assert request(handler)["statusCode"] == 503
    assert "read-only" not in json.loads(request(handler)["body"])["message"]


def test_a_window_on_some_services_blocks_only_those(state_item, monkeypatch):
    put_state(active(services=["pay", "ord"]))
    for code, expected in (("pay", 503), ("ord", 503), ("cat", 200), ("payx", 200), ("", 503)):
        guard = MaintenanceGuard(settings().table_name, ttl_seconds=0, service_code=code or None, service="x")
        assert request(guarded_handler(guard))["statusCode"] == (expected if code else 200), code
    # The code comes from G3N_SERVICE_CODE, else the Powertools service name.
    monkeypatch.setenv("G3N_SERVICE_CODE", "ord")
    assert MaintenanceGuard(settings().table_name, service="orders").service_code == "ord"
    monkeypatch.delenv("G3N_SERVICE_CODE")
    assert MaintenanceGuard(settings().table_name, service="pay").service_code == "pay"
    # An unscoped window (no services, or a malformed value) covers everyone.
    for services in (None, "pay"):
        put_state(active(services=services))
        guard = MaintenanceGuard(settings().table_name, ttl_seconds=0, service="cat")
        assert request(guarded_handler(guard))["statusCode"] == 503


def test_all_three_together_through_both_resolvers(state_item):
    put_state(with_bypass(services=["ord"], allowMethods=["GET"]))
    for resolver, event_for in ((APIGatewayHttpResolver, http_event), (APIGatewayRestResolver, rest_event)):
        guard = MaintenanceGuard(settings().table_name, ttl_seconds=20, service="ord")
        app = resolver()
        app.use(middlewares=[guard.middleware])
        app.get("/orders")(lambda: {"orders": []})
        app.post("/orders")(lambda: {"created": True})

        def call(method: str, headers: dict, event_for=event_for, app=app) -> int:
            event = event_for("/orders")
            event["headers"] = headers
            if "httpMethod" in event:
                event["httpMethod"] = event["requestContext"]["httpMethod"] = method
            else:
                event["requestContext"]["http"]["method"] = method
            return app.resolve(event, None)["statusCode"]

        assert call("GET", {}) == 200
        assert call("POST", {}) == 503
        assert call("POST", {"X-G3N-Maintenance-Bypass": TOKEN}) == 200
        assert call("POST", {"x-g3n-maintenance-bypass": TOKEN.swapcase()}) == 503
    other = MaintenanceGuard(settings().table_name, ttl_seconds=20, service="pay")
    assert other.unavailable("/orders", "POST", {}) is None
    assert other.state()["services"] == ["ord"]  # it still sees the window, which is not its own


def test_the_guard_never_lets_the_token_reach_a_log_or_a_503(state_item, capsys, caplog):
    put_state(with_bypass())
    handler = guarded_handler(MaintenanceGuard(settings().table_name, ttl_seconds=0, service="ord"))
    caplog.set_level("DEBUG")
    bodies = [json.dumps(request(handler, headers={BYPASS_HEADER: value})) for value in (TOKEN + "x", "x")]
    request(handler, headers={BYPASS_HEADER: TOKEN})
    seen = capsys.readouterr().out + caplog.text + "".join(bodies)
    assert TOKEN not in seen and hashlib.sha256(TOKEN.encode()).hexdigest() not in "".join(bodies)


def test_the_domain_digest_is_what_the_guard_compares(state_item):
    token = maintenance.new_bypass_token()
    assert len(token) == 43 and token.isascii()
    put_state(active(bypassSha256=maintenance.bypass_sha256(token)))
    handler = guarded_handler(MaintenanceGuard(settings().table_name, ttl_seconds=0))
    assert request(handler, headers={BYPASS_HEADER: token})["statusCode"] == 200
