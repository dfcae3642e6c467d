"""Vacuum rules that need no AWS: request checks, the plan (what a run may touch), the record
document, the steps' input checks, and the state machine definition itself."""

from __future__ import annotations

import json

import pytest

import workflows
from g3n_ops.contract.errors import (
    ConfirmationPhraseMismatch,
    InvalidInput,
    InvalidOrgcode,
    VacuumNotAllowed,
)
from g3n_ops.contract.registry import DEFAULT_ORGCODE_PATTERN, Registry
from g3n_ops.domain import purge, vacuum
from g3n_ops.domain.vacuum import checks, failure, rounds
from g3n_ops.handlers import vacuum_steps
from g3n_ops.records.vacuum import VacuumRecord
from g3n_ops.settings import Settings
from tests.support import asl_states

SETTINGS = Settings.given(
    stage="dev",
    table_name="g3n-dev-ops",
    registry_parameter="/g3nretailstack/ops/registry",
    maintenance_state_machine_arn="",
    vacuum_state_machine_arn="arn:aws:states:us-east-1:111122223333:stateMachine:g3n-dev-ops-vacuum",
    maintenance_audit_log_group="/g3nretailstack/ops/maintenance-audit",
    vacuum_pending_seconds=300,
    vacuum_allowed=True,
)


@pytest.fixture
def stage(monkeypatch):
    def configure(**changes) -> None:
        monkeypatch.setattr(checks, "settings", lambda: SETTINGS.model_copy(update=changes))

    configure()
    return configure


# -- request checks ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "orgcode", ["TESTORG", "testorg", "Globex_EU", "a", "9", "TESTORG-eu-2", "org_", "A" * 63]
)
def test_valid_orgcodes_are_kept_exactly_as_written(orgcode):
    assert vacuum.check_orgcode(orgcode) == orgcode


@pytest.mark.parametrize(
    "orgcode",
    [
        None,
        "",
        7,
        "TESTORG/",
        "../TESTORG",
        "-TESTORG",
        "_x",
        "ac me",
        "TESTORG\n",
        "a" * 64,
        "*",
        "ácme",
        "TEST%",
    ],
)
def test_invalid_orgcodes_are_refused_with_the_rule(orgcode):
    with pytest.raises(InvalidOrgcode) as refused:
        vacuum.check_orgcode(orgcode)
    assert DEFAULT_ORGCODE_PATTERN in refused.value.message


def test_a_registry_can_narrow_the_orgcode_pattern(registry):
    narrowed = registry.model_copy(update={"orgcode_pattern": "^[A-Z]{3,8}$"})
    assert vacuum.check_orgcode("TESTORG", narrowed.orgcode_pattern) == "TESTORG"
    with pytest.raises(InvalidOrgcode):
        vacuum.check_orgcode("testorg", narrowed.orgcode_pattern)
    document = registry.to_document() | {"orgcodePattern": "[a-z]+"}
    with pytest.raises(ValueError, match="anchored"):
        Registry.model_validate(document)


def test_the_phrase_must_match_exactly():
    vacuum.check_confirmation("VACUUM ALL DATA PERMANENTLY")
    for phrase in (
        None,
        "",
        "vacuum all data permanently",
        "VACUUM ALL DATA PERMANENTLY ",
        "VACUUM ALL DATA",
    ):
        with pytest.raises(ConfirmationPhraseMismatch):
            vacuum.check_confirmation(phrase)


def test_checks_run_in_order_allowed_then_phrase_then_orgcode(stage, registry, monkeypatch):
    monkeypatch.setattr(checks, "load_registry", lambda: registry)
    assert vacuum.check_request("all", "ignored", "VACUUM ALL DATA PERMANENTLY") is None
    assert vacuum.check_request("org", "TESTORG", None) == "TESTORG"
    with pytest.raises(ConfirmationPhraseMismatch):
        vacuum.check_request("all", None, "nope")
    stage(vacuum_allowed=False)
    with pytest.raises(VacuumNotAllowed):
        vacuum.check_request("all", None, "nope")
    with pytest.raises(VacuumNotAllowed):
        vacuum.check_request("org", "Bad Org", None)


# -- the plan ------------------------------------------------------------------------------------
def test_an_org_plan_covers_the_org_scoped_services_only(registry):
    plan = vacuum.build_plan(registry, "org", "TESTORG", purge.Limits())
    tables = plan["tables"]
    assert {t["service"] for t in tables} == {s.code for s in registry.services} - {"uas", "usm"}
    assert len(tables) == 18 and plan["logGroups"] == []
    assert all(t["orgcode"] == "TESTORG" and t["totalSegments"] == 1 for t in tables)
    lookups = {t["table"]: (t["lookup"], t["orgIndex"], t["hashKey"]) for t in tables}
    assert lookups["g3n-dev-org-orgs"] == ("partition", None, "orgcode")
    assert lookups["g3n-dev-cat-categories"] == ("index", "orgcode-index", "pk")
    assert lookups["g3n-dev-inv-movements"][0] == "scan"
    assert {b["bucket"] for b in plan["buckets"]} == {b for s in registry.services for b in s.buckets}
    assert all(purge.UNIT.validate_python(b).prefix == "TESTORG/" for b in plan["buckets"])
    registry_tables = {t.name for s in registry.services for t in s.tables}
    assert {t["table"] for t in tables} <= registry_tables and SETTINGS.table_name not in registry_tables


def test_an_all_plan_covers_everything_and_splits_big_tables(registry, monkeypatch):
    per_segment = purge.Limits().segment_items
    sizes = {"g3n-dev-inv-movements": per_segment * 2 + 1, "g3n-dev-ord-order-lines": per_segment * 10_000}
    monkeypatch.setattr(purge, "table_item_count", lambda name: sizes.get(name, 10))
    plan = vacuum.build_plan(registry, "all", None, purge.Limits())
    by_table: dict[str, list[dict]] = {}
    for unit in plan["tables"]:
        by_table.setdefault(unit["table"], []).append(unit)
    assert len(by_table) == 20
    assert all(u["lookup"] == "all" and u["orgcode"] is None for u in plan["tables"])
    assert [u["segment"] for u in by_table["g3n-dev-inv-movements"]] == [0, 1, 2]
    assert len(by_table["g3n-dev-ord-order-lines"]) == purge.Limits().max_segments
    assert len(by_table["g3n-dev-uas-users"]) == 1
    assert len(plan["logGroups"]) == 15 and all(
        purge.UNIT.validate_python(b).prefix == "" for b in plan["buckets"]
    )


def test_an_org_plan_skips_a_cross_org_table_inside_an_org_scoped_service(registry):
    document = registry.to_document()
    cat = next(s for s in document["services"] if s["code"] == "cat")
    cat["tables"].append(
        {"name": "g3n-dev-cat-shared", "keySchema": cat["tables"][0]["keySchema"], "orgLookup": "none"}
    )
    plan = vacuum.build_plan(Registry.model_validate(document), "org", "TESTORG", purge.Limits())
    assert "g3n-dev-cat-shared" not in {t["table"] for t in plan["tables"]}


def test_zero_stats_count_units_per_service(registry):
    plan = vacuum.build_plan(registry, "org", "TESTORG", purge.Limits())
    stats = vacuum.zero_stats(plan, "org")
    zeroed = {"items": 0, "objects": 0, "bytes": 0, "uploads": 0}
    assert stats["services"]["pos"] == zeroed | {"units": 3, "unitsDone": 0}
    assert "uas" not in stats["services"]
    assert stats["totals"]["units"] == len(plan["tables"]) + len(plan["buckets"])


@pytest.mark.parametrize(("items", "expected"), [(0, 1), (1, 1), (1.0001, 2), (10**6, None)])
def test_segment_count(items, expected):
    limits = purge.Limits()
    count = purge.segment_count(int(items * limits.segment_items), limits)
    assert count == (expected or limits.max_segments)


def test_limits_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("VACUUM_CHUNK_ITEMS", "50")
    monkeypatch.setenv("VACUUM_CHUNK_SECONDS", "5")
    limits = purge.Limits.from_environment()
    assert (limits.chunk_items, limits.chunk_seconds) == (50, 5.0)
    assert purge.Clock(limits).page(purge.TABLE_PAGE_ITEMS) == 50


# -- units refuse to describe something unsafe ---------------------------------------------------
@pytest.mark.parametrize(
    "unit",
    [
        {
            "kind": "table",
            "service": "cat",
            "table": "t",
            "keyNames": ["pk"],
            "lookup": "all",
            "orgcode": "TESTORG",
        },
        {"kind": "table", "service": "cat", "table": "t", "keyNames": ["pk"], "lookup": "scan"},
        {
            "kind": "table",
            "service": "cat",
            "table": "t",
            "keyNames": ["pk"],
            "lookup": "index",
            "orgcode": "a",
        },
        {
            "kind": "table",
            "service": "cat",
            "table": "t",
            "keyNames": ["pk"],
            "lookup": "partition",
            "orgcode": "a",
        },
        {"kind": "table", "service": "c", "table": "t", "keyNames": ["pk"], "lookup": "all", "segment": 2},
        {"kind": "table", "service": "c", "table": "t", "keyNames": [], "lookup": "all"},
        {
            "kind": "table",
            "service": "cat",
            "table": "t",
            "keyNames": ["pk"],
            "lookup": "scan",
            "orgcode": "TESTORG",
            "totalSegments": 2,
        },
        {"kind": "logGroup", "service": "cat", "logGroup": "/aws/lambda/x", "orgcode": "TESTORG"},
        {"kind": "bucket", "service": "cat", "bucket": "b", "prefix": "anything/"},
    ],
)
def test_inconsistent_units_are_rejected(unit):
    with pytest.raises(ValueError):
        purge.UNIT.validate_python(unit)


# -- the record document and the steps' input ----------------------------------------------------
def test_the_public_record_hides_keys_and_shows_every_contract_field():
    item = {
        "pk": "vacuum#v1",
        "kind": "vacuum",
        "sortKey": "2026-11-29T10:00:00.000Z",
        "stats": {"services": {}, "totals": {}},
        "vacuumId": "v1",
        "status": "pending",
        "scope": "org",
        "orgcode": "TESTORG",
        "dryRun": False,
        "reason": "r",
        "requestId": "req",
    }
    document = vacuum.public(VacuumRecord.from_item(item))
    assert list(document)[:5] == ["vacuumId", "status", "scope", "orgcode", "dryRun"]
    assert {"pk", "kind", "sortKey"}.isdisjoint(document)
    assert (
        document["startedAt"] is None and document["finishedAt"] is None and document["executionArn"] is None
    )
    assert document["requestId"] == "req"


def test_a_lambda_error_cause_becomes_its_message():
    cause = json.dumps({"errorType": "NoSuchBucket", "errorMessage": "The bucket does not exist"})
    assert failure._error_message({"Error": "NoSuchBucket", "Cause": cause}) == "The bucket does not exist"
    assert failure._error_message({"Error": "States.Timeout", "Cause": "timed out"}) == "timed out"
    assert failure._error_message({}) == ""


def test_the_steps_refuse_malformed_events_without_touching_anything():
    for event in (
        {},
        {"step": "explode"},
        {"step": "purge-chunk", "vacuumId": "v", "unitId": "u0000"},  # no executionArn
        {"step": "purge-chunk", "vacuumId": "v", "executionArn": "a", "unitId": "u", "extra": 1},
        {"step": "start", "vacuumId": "v"},
    ):
        with pytest.raises(InvalidInput):
            vacuum_steps.run_step(event)


# -- the state machine definition ----------------------------------------------------------------
@pytest.fixture
def asl() -> dict:
    return json.loads(workflows.read_asl("vacuum.asl.json"))


def test_the_definition_renders_and_every_transition_exists(asl):
    text = workflows.read_asl("vacuum.asl.json")
    assert workflows.placeholders(text) == {"VacuumStepsFunctionArn"}
    rendered = workflows.render(text, {"VacuumStepsFunctionArn": "arn:aws:lambda:us-east-1:1:function:f"})
    assert "${" not in rendered
    states = asl_states(asl["States"])
    targets = {asl["StartAt"]}
    for state in states.values():
        targets |= {state.get("Next"), state.get("Default")} - {None}
        targets |= {choice["Next"] for choice in state.get("Choices", [])}
        targets |= {catch["Next"] for catch in state.get("Catch", [])}
    assert targets <= set(states)


def test_every_failure_path_records_the_failure(asl):
    top = asl["States"]
    for name, state in top.items():
        if state["Type"] in ("Task", "Map") and name != "Record failure":
            assert state["Catch"] == [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Record failure"}
            ]
    assert top["Record failure"]["Next"] == "Cancelled while running?"
    assert top["Cancelled while running?"]["Default"] == "Vacuum failed"
    assert top["Record failure"]["Catch"][0]["Next"] == "Vacuum failed"
    assert top["Vacuum failed"] == {
        "Type": "Fail",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def test_the_pending_window_is_deploy_time_and_one_map_purges_every_unit(asl):
    wait = asl["States"]["Wait pending window"]
    assert wait["SecondsPath"] == "$.pendingSeconds" and "Seconds" not in wait
    maps = [name for name, state in asl["States"].items() if state["Type"] == "Map"]
    assert maps == ["Purge units"]
    state = asl["States"]["Purge units"]
    # Concurrency is deploy-time (the round step hands it over); the event names a unit id only.
    assert state["MaxConcurrencyPath"] == "$.round.concurrency" and "MaxConcurrency" not in state
    assert state["ResultPath"] is None and state["Next"] == "Plan next round"
    assert set(state["ItemSelector"]) == {"vacuumId.$", "unitId.$", "turnsLeft.$"}
    chunk = state["ItemProcessor"]["States"]["Purge a chunk"]["Parameters"]["Payload"]
    assert "unit" not in chunk and "dryRun" not in chunk and "dryRun.$" not in chunk
    assert "10,000" in asl["Comment"] and "never the secret code" in asl["Comment"]


def test_every_task_has_the_one_retry_policy_and_the_same_resource(asl):
    tasks = {name: s for name, s in asl_states(asl["States"]).items() if s["Type"] == "Task"}
    policies = {json.dumps(task["Retry"], sort_keys=True) for task in tasks.values()}
    assert len(policies) == 1
    [policy] = next(iter(tasks.values()))["Retry"]
    assert {"Sandbox.Timedout", "Lambda.Unknown", "AwsThrottled", "AwsServerError"} <= set(
        policy["ErrorEquals"]
    )
    assert "States.ALL" not in policy["ErrorEquals"] and "VacuumNotAdmitted" not in policy["ErrorEquals"]
    assert policy["MaxAttempts"] == rounds.RETRY_MAX_ATTEMPTS  # the history budget assumes it
    assert {task["Resource"] for task in tasks.values()} == {"arn:aws:states:::lambda:invoke"}
    assert {task["Parameters"]["FunctionName"] for task in tasks.values()} == {"${VacuumStepsFunctionArn}"}


@pytest.mark.parametrize("units", [1, 7, 160, 1_000, 5_000])
@pytest.mark.parametrize("events", [0, 1_500, 6_000, 9_500])
def test_a_round_never_lets_the_history_pass_its_budget(units, events):
    unfinished = [f"u{n:04d}" for n in range(units)]
    sized = rounds.next_round(events, unfinished)
    if sized is None:
        assert events + rounds.ROUND_EVENTS + rounds.ITERATION_EVENTS + rounds.WORST_CHUNK > (
            rounds.HISTORY_BUDGET - rounds.RESERVE
        )
        return
    worst = rounds.ROUND_EVENTS + len(sized.units) * (
        rounds.ITERATION_EVENTS + sized.turns * rounds.WORST_CHUNK
    )
    assert sized.turns >= 1 and sized.units == unfinished[: len(sized.units)]
    assert events + worst + rounds.RESERVE <= rounds.HISTORY_BUDGET
    assert rounds.HISTORY_BUDGET < 25_000
