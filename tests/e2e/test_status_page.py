"""The public status page on the local stack: what it shows and hides, and, in a real Chromium, what a
person sees as a window is scheduled, runs with updates and ends (the page recovering by itself)."""

from __future__ import annotations

import json
import os
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from g3n_ops.domain.maintenance import Actor, new_record
from g3n_ops.records.maintenance import MaintenanceRecord
from g3n_ops.settings import settings
from g3n_ops.store import maintenance as maintenance_store
from g3n_ops_client.client import ClientConfig, OpsClient
from tests.maintenance_support import soon, stop_running_executions
from tests.support import SECRET

CHROMIUM = Path(os.environ.get("G3N_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REFRESH_SECONDS = 2  # the page reloads itself this often in these tests (60 s when deployed)
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def fetch(url: str, accept: str | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode()


@pytest.fixture
def maintenance(local_stack, monkeypatch):
    """A fresh (unseeded) stack whose status page reloads itself every second while it matters."""
    local_stack.reset(seed=False)
    monkeypatch.setenv("STATUS_REFRESH_SECONDS", str(REFRESH_SECONDS))
    settings.cache_clear()
    yield OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url)).maintenance
    stop_running_executions()
    monkeypatch.undo()
    settings.cache_clear()


@pytest.fixture
def page_url(local_stack) -> str:
    return local_stack.info.api_url + "/status"


def test_the_page_escapes_operator_text_and_shows_nothing_but_the_windows(maintenance, page_url):
    ended = maintenance.schedule(SECRET, "Yesterday's work", 600, soon(3600))["maintenanceId"]
    maintenance.start(SECRET, ended)
    maintenance.end(SECRET, f"Closed {HOSTILE}")
    window = maintenance.schedule(SECRET, f"Upgrade {HOSTILE}", 600, soon(3600))["maintenanceId"]
    maintenance.start(SECRET, window)
    maintenance.update(SECRET, f"First {HOSTILE}")
    maintenance.update(SECRET, "Second & last")

    status, headers, html = fetch(page_url)  # no signature, no Accept: HTML for people
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "<script" not in html and "<img" not in html
    assert html.count("&lt;script&gt;window.pwned = 1&lt;/script&gt;") == 3  # description, update, end
    assert "Second &amp; last" in html
    assert "script-src" not in headers["content-security-policy"]  # default-src 'none': no script at all
    assert headers["x-content-type-options"] == "nosniff"

    status, headers, body = fetch(page_url, accept="application/json")
    page = json.loads(body)
    assert status == 200 and headers["content-type"].startswith("application/json")
    assert set(page) == {"generatedAt", "active", "scheduled", "recentlyEnded", "refreshSeconds"}
    active = page["active"]
    assert active["maintenanceId"] == window and active["description"] == f"Upgrade {HOSTILE}"
    assert [u["text"] for u in active["updates"]] == ["Second & last", f"First {HOSTILE}"]  # newest first
    assert [set(u) for u in active["updates"]] == [{"text", "at"}] * 2
    assert [w["maintenanceId"] for w in page["recentlyEnded"]] == [ended]
    assert page["refreshSeconds"] == REFRESH_SECONDS
    record = maintenance.get(window)
    assert record["actor"] and record["history"]  # the record has them; the page must not
    for text in (html, body):
        assert "arn:" not in text and record["actor"] not in text
        for private in ("actor", "history", "executionArn", "source", "vacuum", "secret", "version"):
            assert f'"{private}"' not in text and f">{private}<" not in text


def test_the_effect_recorded_on_the_window_is_shown(maintenance, page_url):
    window = maintenance.schedule(SECRET, "Cache flush", 600, soon(3600))["maintenanceId"]
    maintenance.start(SECRET, window)
    # What the effect probe writes on the record (its own helper's fields): per service, then all.
    boto3.client("dynamodb").update_item(
        TableName=settings().table_name,
        Key={"pk": {"S": maintenance_store.pk(window)}},
        UpdateExpression="SET effectiveAt = :each, allBlockedAt = :all, notEffective = :none",
        ExpressionAttributeValues={
            ":each": {"M": {"cat": {"S": "2026-11-29T10:00:05Z"}, "<b>x</b>": {"S": "2026-11-29T10:00:09Z"}}},
            ":all": {"S": "2026-11-29T10:00:09Z"},
            ":none": {"L": [{"S": "pos"}]},
        },
    )
    _, _, body = fetch(page_url, accept="application/json")
    assert json.loads(body)["active"]["effect"] == {
        "effectiveAt": {"cat": "2026-11-29T10:00:05Z", "<b>x</b>": "2026-11-29T10:00:09Z"},
        "allBlockedAt": "2026-11-29T10:00:09Z",
        "notEffective": ["pos"],
        # A window on every service has no "others" to prove unaffected.
        "othersUnaffected": None,
        "collateral": None,
    }
    _, _, html = fetch(page_url)
    assert "All services paused since" in html and "Still answering normally: pos." in html
    assert "<b>x</b>" not in html


def _record(description: str, status: str, start: datetime, **fields) -> MaintenanceRecord:
    """A record as the maintenance domain writes it, put straight into the store (fast setup)."""
    record = new_record(
        description=description,
        duration=600,
        start=start,
        auto_end=False,
        by=Actor("cli", "arn:aws:iam::123456789012:user/operator"),
        moment=datetime.now(UTC),
    ).changed(status=status, **fields)
    maintenance_store.create(record)
    return record


def test_the_page_lists_a_week_ahead_the_last_ten_ended_and_reloads_only_when_it_matters(
    maintenance, page_url
):
    now = datetime.now(UTC)

    def page() -> dict:
        return json.loads(fetch(page_url, accept="application/json")[2])

    assert page()["refreshSeconds"] is None  # nothing on: nothing to follow
    in_two_days = _record("In two days", "scheduled", now + timedelta(days=2))
    _record("Next month", "scheduled", now + timedelta(days=8))
    tomorrow = _record("Tomorrow", "scheduled", now + timedelta(days=1))
    ended = [
        # Created in one order, ended in the other: the page orders by when they ended.
        _record(
            f"Ended {n}", "ended", now - timedelta(days=30), ended_at=f"2026-10-{12 - n:02d}T00:00:00.000Z"
        )
        for n in range(12)
    ]
    _record("Called off", "cancelled", now - timedelta(days=1))

    shown = page()
    assert [w["maintenanceId"] for w in shown["scheduled"]] == [
        tomorrow.maintenance_id,
        in_two_days.maintenance_id,
    ]
    assert [w["description"] for w in shown["recentlyEnded"]] == [f"Ended {n}" for n in range(10)]
    assert shown["refreshSeconds"] is None  # a start a day away is not imminent

    soon_start = _record("In ten minutes", "scheduled", now + timedelta(minutes=10))
    shown = page()
    assert shown["scheduled"][0]["maintenanceId"] == soon_start.maintenance_id
    assert shown["refreshSeconds"] == REFRESH_SECONDS
    assert f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">' in fetch(page_url)[2]
    assert all(record.actor not in json.dumps(shown) for record in (soon_start, *ended))


def test_json_only_when_asked_for_above_html(page_url, maintenance):
    for accept, expected in [
        ("application/json", "application/json"),
        ("text/html;q=0.5, application/json", "application/json"),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "text/html"),  # a browser
        ("*/*", "text/html"),
        ("application/json;q=0.5, text/html", "text/html"),
        ("application/json;q=oops", "text/html"),
    ]:
        _, headers, _ = fetch(page_url, accept=accept)
        assert headers["content-type"].startswith(expected), accept


# -- in a real browser -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI installs it: there a missing browser is a broken run, not a skip
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _sees(page, name: str, level: int, timeout: float = 15_000) -> None:
    """The page shows a heading ``name`` (waiting up to ``timeout`` ms for it, without reloading)."""
    page.get_by_role("heading", name=name, level=level).wait_for(state="visible", timeout=timeout)


def _settled(page, check, attempts: int = 5) -> None:
    """Run ``check``; if a self-reload of the page cut it short, wait for the new load and run it
    again (a check that fails on a settled page fails every attempt)."""
    for attempt in range(attempts):
        try:
            check()
            return
        except (PlaywrightError, AssertionError):
            if attempt == attempts - 1:
                raise
            page.wait_for_load_state("load")


def _landmarks_and_layout(page) -> None:
    for role in ("banner", "main", "contentinfo"):
        assert page.get_by_role(role).count() == 1, role
    assert page.get_by_role("heading", level=1).inner_text() == "g3nretailstack status"
    assert page.evaluate("document.documentElement.lang") == "en"
    # Readable on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_person_follows_a_window_from_schedule_to_recovery(browser, maintenance, page_url, tmp_path):
    context = browser.new_context(viewport={"width": 390, "height": 844}, java_script_enabled=True)
    page = context.new_page()
    loads: list[str] = []
    page.on("load", lambda _: loads.append("load"))

    # 1. No window.
    page.goto(page_url)
    _sees(page, "All services operating normally", 2)
    _landmarks_and_layout(page)
    assert page.get_by_text("No maintenance scheduled in the next 7 days.").is_visible()
    assert page.locator('meta[http-equiv="refresh"]').count() == 0  # nothing to follow: no reloads
    page.screenshot(path=tmp_path / "1-no-window.png", full_page=True)

    # 2. A window scheduled in two days.
    window = maintenance.schedule(SECRET, f"Database upgrade {HOSTILE}", 1800, soon(2 * 24 * 3600))[
        "maintenanceId"
    ]
    page.goto(page_url)
    _sees(page, "Scheduled maintenance", 2)
    _sees(page, "All services operating normally", 2)
    scheduled = page.get_by_role("region", name="Scheduled maintenance")
    assert f"Database upgrade {HOSTILE}" in scheduled.inner_text()  # the operator's text, as text
    assert "Starts" in scheduled.inner_text() and "Expected end" in scheduled.inner_text()
    _landmarks_and_layout(page)
    page.screenshot(path=tmp_path / "2-scheduled.png", full_page=True)

    # 3. It starts, with two updates. The page now reloads itself every REFRESH_SECONDS, so what
    # is read is read within one load (``_settled`` retries a check cut short by a reload).
    maintenance.start(SECRET, window)
    maintenance.update(SECRET, "Migrations running")
    maintenance.update(SECRET, "Migrations done, checking")
    page.goto(page_url)
    _sees(page, "Maintenance in progress", 2)

    def active_page() -> None:
        now = page.get_by_role("region", name="Maintenance in progress")
        assert f"Database upgrade {HOSTILE}" in now.inner_text()
        updates = now.get_by_role("list", name="Updates").get_by_role("listitem").all_inner_texts()
        assert [text.splitlines()[-1] for text in updates] == [
            "Migrations done, checking",
            "Migrations running",
        ]
        assert "Started" in now.inner_text() and "Expected end" in now.inner_text()
        assert page.evaluate("window.pwned") is None  # the hostile description ran nothing
        scheduled = page.get_by_role("region", name="Scheduled maintenance")
        assert scheduled.get_by_text("No maintenance").is_visible()
        _landmarks_and_layout(page)
        page.screenshot(path=tmp_path / "3-active.png", full_page=True)

    _settled(page, active_page)

    # 4. The operator ends it; the open page recovers by itself (meta refresh), no reload from here.
    loads.clear()
    maintenance.end(SECRET, "Upgrade complete")
    _sees(page, "All services operating normally", 2, timeout=30_000)
    assert loads, "the page reloaded itself"
    recent = page.get_by_role("region", name="Recent maintenance")
    assert "Upgrade complete" in recent.inner_text() and "Database upgrade" in recent.inner_text()
    assert page.locator('meta[http-equiv="refresh"]').count() == 0  # nothing to follow any more
    page.screenshot(path=tmp_path / "4-recovered.png", full_page=True)
    context.close()
    for name in ("1-no-window", "2-scheduled", "3-active", "4-recovered"):
        assert (tmp_path / f"{name}.png").stat().st_size > 1000, name
