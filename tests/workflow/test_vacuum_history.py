"""No execution's history grows with the amount of data: one unit forced through 90
one-item chunks under a lowered history budget continues as new executions, each under the
budget, and the run stays exact. Its verify (a COUNT scan over another org's items, one item a
chunk) loops over stored cursors and continues as new too. (bench/vacuum_history.py does
thousands of chunks at the real budget.)"""

from __future__ import annotations

import boto3
import pytest

from g3n_ops.domain.vacuum import rounds
from g3n_ops.settings import settings
from g3n_ops.store import vacuum as vacuum_store
from tests.support import SECRET
from tests.vacuum_support import (
    plant_dry_run,
    put_registry,
    registry,
    stop_vacuum_executions,
    table_keys,
    wait_done,
)

ITEMS = 90  # of the org vacuumed
OTHERS = 60  # of another org: verify reads past them, one a chunk
BUDGET = 500


@pytest.fixture
def one_table(local_stack, monkeypatch):
    """An empty stack whose registry holds one scan-lookup table (ITEMS of org X, OTHERS of Y)
    and nothing else."""
    local_stack.reset(seed=False)
    original = registry()
    document = original.to_document()
    service = next(s for s in document["services"] if s["tables"])
    table = service["tables"][0] | {"orgLookup": "scan", "orgIndex": None}
    service |= {"orgScoped": True, "tables": [table], "buckets": [], "logGroups": []}
    document["services"] = [service]
    put_registry(document)
    table = registry().services[0].tables[0]
    ddb = boto3.client("dynamodb")
    owners = ["X"] * ITEMS + ["Y"] * OTHERS
    for start in range(0, len(owners), 25):
        batch = [
            {
                "PutRequest": {
                    "Item": {**{k: {"S": f"{k}-{n:05d}"} for k in table.key_names}, "orgcode": {"S": org}}
                }
            }
            for n, org in enumerate(owners[start : start + 25], start)
        ]
        ddb.batch_write_item(RequestItems={table.name: batch})
    monkeypatch.setenv("VACUUM_CHUNK_ITEMS", "1")
    monkeypatch.setenv("VACUUM_HISTORY_EVENTS", str(BUDGET))
    yield table
    stop_vacuum_executions()
    put_registry(original.to_document())


def history_events(execution_arn: str) -> list[dict]:
    """Every event of the execution, read page by page."""
    pages = (
        boto3.client("stepfunctions")
        .get_paginator("get_execution_history")
        .paginate(executionArn=execution_arn, PaginationConfig={"PageSize": 1000})
    )
    return [event for page in pages for event in page["events"]]


def _entered(events: list[dict], state: str) -> int:
    return sum(1 for event in events if event.get("stateEnteredEventDetails", {}).get("name") == state)


def run_executions(vacuum_id: str) -> list[dict]:
    sfn = boto3.client("stepfunctions")
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=settings().vacuum_state_machine_arn)
    found = [e for page in pages for e in page["executions"] if e["name"].startswith(f"vacuum-{vacuum_id}")]
    return sorted(found, key=lambda e: e["name"])


def test_one_unit_of_hundreds_of_chunks_continues_as_new_under_the_budget(one_table, client):
    assert len(table_keys(one_table).get("X", ())) == ITEMS
    others = table_keys(one_table)["Y"]
    plant_dry_run("X")
    requested = client.vacuum.org(SECRET, "X", "history bound")
    final = wait_done(client, requested, timeout=240)
    assert final["status"] == "completed", final.get("error")
    assert final["stats"]["totals"]["items"] == ITEMS and table_keys(one_table) == {"Y": others}

    executions = run_executions(final["vacuumId"])
    names = [e["name"] for e in executions]
    assert names[0] == f"vacuum-{final['vacuumId']}" and len(names) >= 3, names
    assert names[1:] == [f"vacuum-{final['vacuumId']}-c{n}" for n in range(1, len(names))]
    assert final["executionArn"] == executions[-1]["executionArn"]
    histories = [history_events(e["executionArn"]) for e in executions]
    lengths = [len(events) for events in histories]
    assert max(lengths) <= BUDGET, lengths
    # ~7 events a chunk: the budget really was reached, it is not a run that happened to be short
    assert sum(lengths) > 7 * ITEMS > BUDGET
    assert all(e["status"] == "SUCCEEDED" for e in executions)
    verify_turns = [_entered(events, "Verify nothing left") for events in histories]
    assert sum(verify_turns) >= OTHERS, verify_turns  # one chunk per item read, from stored cursors
    assert len([turns for turns in verify_turns if turns]) >= 2, "verify went on in a new execution"
    assert vacuum_store.get_record(final["vacuumId"]).document()["verifyProgress"] == {
        one_table.name: {"done": True, "cursor": None}
    }
    assert rounds.history_budget() == BUDGET < rounds.HISTORY_BUDGET
