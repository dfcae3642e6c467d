"""A vacuum execution that ends outside OPS's own paths (stopped from the console, timed out)
must not leave its record pending or its mutex held. The EventBridge rule closes it at once
(test_notifications.py); should that event be late or lost, the next status read closes it."""

import boto3

from g3n_ops.store import vacuum_mutex
from tests.support import SECRET, wait_until
from tests.vacuum_support import plant_dry_run


def test_an_execution_stopped_from_the_console_is_closed_as_failed_by_status(seeded, client, local_stack):
    plant_dry_run("TESTORG")
    record = client.vacuum.org(SECRET, "TESTORG", "to be stopped behind OPS's back")
    assert record["status"] == "pending" and record["executionArn"]
    sfn = boto3.client("stepfunctions")
    # The event is "lost" while paused: only the read can close the record.
    with local_stack.provisioner.status_watcher.paused():
        sfn.stop_execution(executionArn=record["executionArn"], cause="stopped in the console")
        wait_until(
            lambda: sfn.describe_execution(executionArn=record["executionArn"])["status"] == "ABORTED",
            timeout=30,  # moto stops an execution between states: slow on a loaded machine
            message="the execution is aborted",
        )
        assert vacuum_mutex.read_mutex() is not None  # nothing inside the run could release it

        closed = client.vacuum.status(record["vacuumId"])

    assert closed["status"] == "failed"
    assert closed["error"]["code"] == "vacuum-step-failed"
    assert closed["error"]["type"] == "ExecutionAborted"
    assert not closed["stats"]["totals"].get("items")  # it never got past the pending window
    assert vacuum_mutex.read_mutex() is None
    # The stack is usable again at once, not after the lease runs out.
    dry = client.vacuum.org(SECRET, "TESTORG", "after the stop", dry_run=True)
    assert client.vacuum.wait(dry["vacuumId"], timeout=60)["status"] == "completed"


def test_status_leaves_a_live_run_alone(seeded, client):
    plant_dry_run("testorg")
    record = client.vacuum.org(SECRET, "testorg", "still waiting", dry_run=False)
    assert client.vacuum.status(record["vacuumId"])["status"] == "pending"
    client.vacuum.cancel(SECRET, record["vacuumId"])
    assert client.vacuum.status(record["vacuumId"])["status"] == "cancelled"
