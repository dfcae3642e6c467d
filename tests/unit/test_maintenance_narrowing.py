"""Narrower windows through the operations (no timer waits): ``services`` and ``allowMethods``
checked (duplicates, blanks, unknown codes), the bypass token shown once and never again, its
digest in no read, rotation, and the recurring windows' ``services`` / ``allowMethods``."""

from __future__ import annotations

import json
import re
import uuid

import boto3
import pytest

from g3n_ops.contract.errors import InvalidInput
from g3n_ops.domain import maintenance
from g3n_ops.settings import settings
from g3n_ops.store import maintenance_state
from g3n_ops_client.errors import OpsClientError
from tests.maintenance_support import audit_lines, soon
from tests.support import SECRET, run_cli, run_cli_json

KNOWN = "uas, usm, org, cat, inv, prc, ord, pay, cus, loy, pro, pos, sup, rpt"


def error(call) -> OpsClientError:
    with pytest.raises(OpsClientError) as raised:
        call()
    return raised.value


def later(ops, **kwargs) -> dict:
    return ops.maintenance.schedule(SECRET, "Planned work", 600, soon(600), **kwargs)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("pay,ord", ["ord", "pay"]),  # registry order, whatever the order given
        ("pay,pay,ord,ord", ["ord", "pay"]),  # duplicates collapse
        (" pay , ,ord,, ", ["ord", "pay"]),  # blanks are skipped
        ("PAY,Ord", ["ord", "pay"]),  # codes are lowercase
        (["pay", "", " pay "], ["pay"]),
        (KNOWN.replace(" ", ""), None),  # every API service: the whole platform
    ],
)
def test_services_are_normalised(ops, given, kept):
    assert later(ops, services=given)["services"] == kept


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("pay,xyz", f"unknown service code(s): xyz; the known ones are {KNOWN}"),
        ("ntf", "unknown service code(s): ntf"),  # in the registry, but not an API service
        (",", "name at least one service"),
        ("  ", "name at least one service"),
        ("x" * 40 + ",pay", "unknown service code(s): " + "x" * 32),
    ],
)
def test_unknown_or_empty_services_are_invalid_input_listing_the_known(ops, given, complaint):
    refused = error(lambda: later(ops, services=given))
    assert refused.code == "invalid-input" and complaint in refused.message


def test_oversized_services_or_methods_are_refused_before_the_domain(ops):
    assert error(lambda: later(ops, services=["pay"] * 65)).code == "invalid-input"
    assert error(lambda: later(ops, services="p" * 2000)).code == "invalid-input"
    assert error(lambda: later(ops, allow_methods="G" * 300)).code == "invalid-input"


@pytest.mark.parametrize(
    ("given", "kept"),
    [("GET,HEAD", ["GET", "HEAD"]), ("head, get,,GET", ["GET", "HEAD"]), ("POST", ["POST"]), (",", None)],
)
def test_allow_methods_are_normalised(ops, given, kept):
    window = later(ops, allow_methods=given)
    assert window["allowMethods"] == kept and window["mode"] == ("read-only" if kept else "full")


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ("GET,FETCH", "unknown HTTP method(s): FETCH"),
        ("GET,HEAD,OPTIONS,POST,PUT,PATCH,DELETE", "blocks nothing"),
    ],
)
def test_bad_allow_methods_are_invalid_input(ops, given, complaint):
    refused = error(lambda: later(ops, allow_methods=given))
    assert refused.code == "invalid-input" and complaint in refused.message


def test_the_cli_passes_services_and_methods_and_refuses_unknown_codes(ops, capsys):
    code, window = run_cli_json(capsys, "ops", "maintenance-schedule", "--secret-code", SECRET,
                                "--description", "x", "--duration", "60", "--start", soon(600),
                                "--services", "pay,,pay", "--allow-methods", "GET")  # fmt: skip
    assert code == 0 and window["services"] == ["pay"] and window["allowMethods"] == ["GET"]
    code, _, err = run_cli(capsys, "ops", "maintenance-schedule", "--secret-code", SECRET,
                             "--description", "x", "--duration", "60", "--start", soon(600),
                             "--services", "pay,nope")  # fmt: skip
    assert code != 0 and "invalid-input" in err and KNOWN in err


def test_the_token_is_shown_once_and_only_its_digest_is_kept(ops, capsys):
    window = later(ops, bypass=True)
    token = window["bypassToken"]
    assert len(token) == 43 and window["bypass"] is True and "bypassSha256" not in window
    maintenance_id = window["maintenanceId"]
    item = boto3.client("dynamodb").get_item(
        TableName=settings().table_name, Key={"pk": {"S": f"maintenance#{maintenance_id}"}}
    )["Item"]
    assert item["bypassSha256"]["S"] == maintenance.bypass_sha256(token)
    assert token not in json.dumps(item)

    # No read shows the token or its digest again.
    digest = maintenance.bypass_sha256(token)
    reads = [ops.maintenance.get(maintenance_id), ops.maintenance.list(), ops.ping(), ops.stat()]
    assert all(token not in json.dumps(read) and digest not in json.dumps(read) for read in reads)
    assert reads[0]["bypass"] is True and "bypassToken" not in reads[0]

    # A start with --bypass issues a new one, replacing it; the state item the guard reads has it.
    started = ops.maintenance.start(SECRET, maintenance_id, bypass=True)
    assert started["bypassToken"] not in (None, token)
    state = maintenance_state.read()
    assert state["bypassSha256"] == maintenance.bypass_sha256(started["bypassToken"])
    assert "bypassSha256" not in ops.ping()["maintenance"] and ops.ping()["maintenance"]["bypass"] is True

    # Rotation: a new digest on the state, the old one gone; an update alone carries no token.
    rotated = ops.maintenance.update(SECRET, rotate_bypass=True)
    assert maintenance_state.read()["bypassSha256"] == maintenance.bypass_sha256(rotated["bypassToken"])
    assert "bypassToken" not in ops.maintenance.update(SECRET, "halfway")
    assert error(lambda: ops.maintenance.update(SECRET)).code == "invalid-input"
    tokens = (token, started["bypassToken"], rotated["bypassToken"])
    lines = json.dumps(audit_lines(maintenance_id))
    assert "rotate-bypass" in lines and not any(t in lines for t in tokens)

    # The end forgets the digest: on the record and on the state.
    ops.maintenance.end(SECRET, "done")
    assert maintenance.get(maintenance_id).bypass_sha256 is None
    assert "bypassSha256" not in maintenance_state.read()


def test_a_replayed_schedule_does_not_show_a_token_it_did_not_store(ops):
    request_id = str(uuid.uuid4())
    fields = {"secretCode": SECRET, "description": "replay", "duration": 60, "start": soon(600),
              "bypass": True, "requestId": request_id}  # fmt: skip
    first = ops.invoke("maintenance", "maintenance-schedule", **fields)
    again = ops.invoke("maintenance", "maintenance-schedule", **fields)
    assert first["maintenanceId"] == again["maintenanceId"]
    assert len(first["bypassToken"]) == 43 and again["bypassToken"] is None
    assert again["bypass"] is True and "bypassSha256" not in again


def test_a_window_without_a_bypass_gets_one_by_rotation(ops):
    window = later(ops)
    assert "bypassToken" not in window and window["bypass"] is False
    ops.maintenance.start(SECRET, window["maintenanceId"])
    rotated = ops.maintenance.update(SECRET, rotate_bypass=True)
    assert rotated["bypass"] is True and len(rotated["bypassToken"]) == 43
    ops.maintenance.end(SECRET, "done")


def test_the_domain_rules_without_a_stack():
    with pytest.raises(InvalidInput, match=r"e\.g\. GET,HEAD"):
        maintenance.check_methods([1, 2])  # type: ignore[list-item]
    assert maintenance.check_methods(None) is None
    assert maintenance.mode({"allowMethods": ["GET"]}) == "read-only"
    shown = maintenance.shown({"maintenanceId": "mw-20261201-3f2a9c1d", "bypassSha256": "ab" * 32})
    assert shown["bypass"] is True and "bypassSha256" not in shown and shown["services"] is None
    assert maintenance.shown({"active": False}) == {"active": False}


def test_recurring_entries_are_checked_at_synth():
    from infra.constructs.schedules import RecurringWindow

    base = {"name": "nightly", "cron": "0 3 * * ? *", "description": "Nightly", "duration": 600}
    codes = KNOWN.split(", ")
    plain = RecurringWindow.from_context(base, api_codes=codes)
    assert plain.execution_input() == {"source": "schedule", "description": "Nightly", "duration": 600,
                                       "autoEnd": False}  # fmt: skip
    narrow = RecurringWindow.from_context(
        {**base, "services": ["pay", " ord", "pay"], "allowMethods": ["get", "HEAD"]}, api_codes=codes
    )
    assert narrow.execution_input()["services"] == ["ord", "pay"]
    assert narrow.execution_input()["allowMethods"] == ["GET", "HEAD"]
    for bad, complaint in (
        ({"services": ["pay", "nope"]}, "the known ones are uas"),
        ({"services": []}, "non-empty list"),
        ({"services": "pay"}, "non-empty list"),
        ({"services": [" "]}, "non-empty list"),
        ({"allowMethods": ["GET", "FETCH"]}, "some (not all)"),
        ({"allowMethods": ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]}, "some (not all)"),
    ):
        with pytest.raises(ValueError, match=re.escape(complaint)):
            RecurringWindow.from_context({**base, **bad}, api_codes=codes)
