"""The local stack's fixes to moto's Step Functions, proven through boto3 as a caller sees them."""

from __future__ import annotations

import copy
import json
import threading
import time

import boto3
import pytest
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.responses import DynamoResult
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_lambda import (
    StateTaskServiceLambda,
)
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from tests.support import wait_until

WAITING = json.dumps({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 60, "End": True}}})


def create_table(ddb, name: str, *, sort_key_type: str | None = None) -> None:
    """An on-demand table keyed by ``pk`` (S), and ``sk`` of ``sort_key_type`` when given."""
    keys = [("pk", "HASH", "S")] + ([("sk", "RANGE", sort_key_type)] if sort_key_type else [])
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": attribute, "KeyType": kind} for attribute, kind, _ in keys],
        AttributeDefinitions=[
            {"AttributeName": attribute, "AttributeType": type_} for attribute, _, type_ in keys
        ],
        BillingMode="PAY_PER_REQUEST",
    )


@pytest.fixture
def waiting_machine(local_stack):
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="stop-race",
        definition=WAITING,
        roleArn="arn:aws:iam::123456789012:role/stop-race",
    )["stateMachineArn"]
    yield sfn, arn
    sfn.delete_state_machine(stateMachineArn=arn)


def test_an_execution_stopped_before_its_program_runs_is_stopped(waiting_machine, monkeypatch):
    sfn, machine = waiting_machine
    build = ExecutionWorker._get_evaluation_entrypoint

    def slow_build(self):  # the parse under load, when several executions start at once
        time.sleep(0.5)
        return build(self)

    monkeypatch.setattr(ExecutionWorker, "_get_evaluation_entrypoint", slow_build)
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    sfn.stop_execution(executionArn=execution, cause="stopped at once")
    stopped = wait_until(
        lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
        timeout=10,
        message="the execution stops",
    )
    assert stopped["status"] == "ABORTED"


TASK = json.dumps(
    {
        "StartAt": "Task",
        "States": {
            "Task": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": "never-invoked", "Payload": {"input.$": "$"}},
                "End": True,
            }
        },
    }
)


def test_an_execution_stopped_as_its_task_starts_is_aborted(local_stack, monkeypatch):
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="stop-task-race", definition=TASK, roleArn="arn:aws:iam::123456789012:role/stop-task-race"
    )["stateMachineArn"]
    task_thread_runs, stopped = threading.Event(), threading.Event()
    run = StateTaskServiceLambda._eval_execution

    def late_start(self, env):  # the task's own thread, scheduled late under load
        task_thread_runs.set()
        stopped.wait(10)
        return run(self, env)

    monkeypatch.setattr(StateTaskServiceLambda, "_eval_execution", late_start)
    try:
        execution = sfn.start_execution(stateMachineArn=machine, name="stop-task-race", input='{"a": 1}')[
            "executionArn"
        ]
        assert task_thread_runs.wait(10)
        sfn.stop_execution(executionArn=execution, cause="stopped as the task starts")
        stopped.set()
        ended = wait_until(
            lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d,
            timeout=10,
            message="the execution ends",
        )
        events = [e["type"] for e in sfn.get_execution_history(executionArn=execution)["events"]]
        assert ended["status"] == "ABORTED", ended.get("cause")
        assert events[-1] == "ExecutionAborted" and "TaskFailed" not in events
    finally:
        stopped.set()
        sfn.delete_state_machine(stateMachineArn=machine)


def test_sessions_of_the_local_stack_share_the_models_they_load(local_stack):
    """Every function, stand-in and client of the local stack makes sessions in one process; the
    second one reads no service model from disk again."""
    first, second = boto3.session.Session(), boto3.session.Session()
    loader = first._session.get_component("data_loader")
    assert second._session.get_component("data_loader") is loader
    first.client("lambda", region_name="us-east-1")
    began = time.thread_time()
    second.client("lambda", region_name="us-east-1")
    assert time.thread_time() - began < 0.06  # ~15 ms; ~110 ms when it reads the models again


def test_lambda_tasks_share_a_client_per_region_with_motos_own_settings(local_stack):
    """moto made a client (~10 ms) for every Lambda task: tasks on parallel threads now get one
    client per region and service, still with the timeouts and no-retry policy moto asks for."""
    from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(boto_client_for("us-east-1", "lambda"))) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8 and all(client is got[0] for client in got)
    assert boto_client_for("eu-west-1", "lambda") is not got[0]
    assert boto_client_for("us-east-1", "s3") is not got[0]
    config = got[0].meta.config
    assert config.retries["total_max_attempts"] == 1  # a task failure goes to the ASL's Retry
    assert config.max_pool_connections >= 8  # a Map's parallel tasks each keep a connection


def test_item_answers_are_what_motos_own_serializer_gives(local_stack, monkeypatch):
    """The JSON fast path for item answers against moto's generic serializer, on an item of every
    attribute type, through each item operation."""
    table = "serializer-check"
    ddb = boto3.client("dynamodb")
    create_table(ddb, table, sort_key_type="N")
    item = {
        "pk": {"S": "p"}, "sk": {"N": "1"}, "blob": {"B": b"\x00\xffbytes"}, "yes": {"BOOL": True},
        "nothing": {"NULL": True}, "names": {"SS": ["a", "b"]}, "numbers": {"NS": ["1", "2.5"]},
        "blobs": {"BS": [b"x", b"\x01"]},
        "nested": {"M": {"list": {"L": [{"S": "s"}, {"N": "3"}, {"M": {"deep": {"B": b"d"}}}]}}},
    }  # fmt: skip
    key = {"pk": {"S": "p"}, "sk": {"N": "1"}}

    def answers() -> list[dict]:
        calls = [
            lambda: ddb.put_item(TableName=table, Item=item, ReturnValues="ALL_OLD"),
            lambda: ddb.get_item(TableName=table, Key=key),
            lambda: ddb.get_item(
                TableName=table,
                Key=key,
                ProjectionExpression="nested, #b",
                ExpressionAttributeNames={"#b": "blob"},
            ),
            lambda: ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET yes = :no",
                ExpressionAttributeValues={":no": {"BOOL": False}},
                ReturnValues="ALL_NEW",
                ReturnConsumedCapacity="TOTAL",
            ),
            lambda: ddb.query(
                TableName=table,
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": {"S": "p"}},
                Limit=1,
            ),
            lambda: ddb.scan(TableName=table, Limit=1),
            lambda: ddb.delete_item(TableName=table, Key=key, ReturnValues="ALL_OLD"),
        ]
        found = []
        for call in calls:
            answer = call()
            answer.pop("ResponseMetadata")
            found.append(answer)
        return found

    fast = answers()
    assert fast[1]["Item"] == item and fast[-1]["Attributes"]["blob"] == {"B": b"\x00\xffbytes"}
    monkeypatch.setattr(DynamoResult, "execute_result", DynamoResult.execute_result.generic)
    assert answers() == fast


def test_item_answers_leave_absent_members_out_and_blobs_in_base64(local_stack):
    """The JSON fast path writes what the generic serializer writes: a member that is None is
    left out at any depth (even when a value holds the word null), and a blob is base64."""
    from types import SimpleNamespace

    result = DynamoResult(
        {
            "Item": {"pk": {"S": "null"}, "b": {"B": b"\x00\xff"}},
            "ConsumedCapacity": None,
            "Extra": {"x": None},
        }
    )
    status, headers, text = result.execute_result(
        SimpleNamespace(operation_model=SimpleNamespace(name="GetItem"))
    )
    assert (status, headers["Content-Type"]) == (200, "application/x-amz-json-1.0")
    assert json.loads(text) == {"Item": {"pk": {"S": "null"}, "b": {"B": "AP8="}}, "Extra": {}}


def test_item_copies_are_what_motos_own_copy_gives(local_stack, monkeypatch):
    """The one-pass copy of an item against moto's deepcopy: equal, of every attribute type, and
    sharing no container with the original (changing the copy leaves the item as it was)."""
    original = Item(
        DynamoType({"S": "p"}),
        DynamoType({"N": "1"}),
        {
            "blob": {"B": b"\x00\xff"}, "yes": {"BOOL": True}, "nothing": {"NULL": True},
            "names": {"SS": ["a", "b"]}, "numbers": {"NS": ["1", "2.5"]}, "blobs": {"BS": [b"x"]},
            "nested": {"M": {"list": {"L": [{"S": "s"}, {"M": {"deep": {"N": "3"}}}]}}},
        },
    )  # fmt: skip
    fast = copy.deepcopy(original)
    own_value_copy, own_item_copy = DynamoType.__deepcopy__.generic
    monkeypatch.setattr(DynamoType, "__deepcopy__", own_value_copy)
    monkeypatch.setattr(Item, "__deepcopy__", own_item_copy)
    assert fast.to_json() == copy.deepcopy(original).to_json() == original.to_json()
    assert type(fast.attrs) is type(original.attrs) and fast.range_key == original.range_key
    fast.attrs["nested"].value["list"].value[1].value["deep"].value = "4"
    fast.attrs["names"].value.append("c")
    assert original.attrs["nested"].value["list"].value[1].value["deep"].value == "3"
    assert original.attrs["names"].value == ["a", "b"]


@pytest.fixture
def record_table(local_stack):
    """A table holding one record-like item: nested maps, a list of maps, sets."""
    ddb, table = boto3.client("dynamodb"), "patch-check"
    create_table(ddb, table)
    item = {
        "pk": {"S": "r"}, "status": {"S": "running"}, "tags": {"SS": ["a", "b"]},
        "plan": {"L": [{"M": {"unit": {"S": f"u{n}"}, "n": {"N": str(n)}}} for n in range(3)]},
        "progress": {"M": {f"u{n}": {"M": {"done": {"BOOL": False}, "items": {"N": "0"}}} for n in range(3)}},
    }  # fmt: skip
    ddb.put_item(TableName=table, Item=item)
    yield ddb, table, {"pk": {"S": "r"}}
    ddb.delete_table(TableName=table)


def test_projections_are_what_motos_own_projection_gives(record_table, monkeypatch):
    ddb, table, key = record_table
    projections = [
        ("#s, #p.#u, plan[1].unit, tags", {"#s": "status", "#p": "progress", "#u": "u2"}),
        ("#p.#a, #p.#b, absent", {"#p": "progress", "#a": "u0", "#b": "u1"}),
        ("plan[0], plan[2], #s", {"#s": "status"}),
    ]

    def answers() -> list[dict]:
        return [
            ddb.get_item(
                TableName=table, Key=key, ProjectionExpression=expression, ExpressionAttributeNames=names
            )["Item"]
            for expression, names in projections
        ]

    once = answers()
    assert once[0]["progress"] == {"M": {"u2": {"M": {"done": {"BOOL": False}, "items": {"N": "0"}}}}}
    monkeypatch.setattr(Item, "project", Item.project.generic)
    assert answers() == once


def test_updates_answering_nothing_write_and_fail_as_motos_own_handler(record_table, monkeypatch):
    """``ReturnValues: NONE`` skips the item's copy and renders: the same answer, the same item
    written, the same errors (a key of the wrong shape, a failed condition) as moto's handler."""
    from moto.dynamodb.responses import DynamoHandler

    ddb, table, key = record_table
    original = ddb.get_item(TableName=table, Key=key)["Item"]
    names = {"#p": "progress", "#u": "u1", "#d": "done", "#i": "items", "#s": "status"}
    values = {":t": {"BOOL": True}, ":n": {"N": "25"}, ":s": {"S": "done"}}
    updates = [
        ({"UpdateExpression": "SET #p.#u.#d = :t ADD #p.#u.#i :n", "ReturnValues": "NONE"}, key),
        ({"UpdateExpression": "SET #s = :s", "ConditionExpression": "#s = :s"}, key),
        ({"UpdateExpression": "REMOVE #p.#u"}, {"pk": {"N": "1"}}),
        ({"UpdateExpression": "REMOVE #p.#u"}, key | {"other": {"S": "x"}}),
        ({"UpdateExpression": "SET #p.#u.#d = :t", "ReturnValues": "UPDATED_NEW"}, key),
    ]

    def outcomes() -> list:
        ddb.put_item(TableName=table, Item=original)
        found = []
        for update, item_key in updates:
            said = update["UpdateExpression"] + update.get("ConditionExpression", "")
            used_values = {name: value for name, value in values.items() if name in said}
            try:
                answer = ddb.update_item(
                    TableName=table,
                    Key=item_key,
                    ExpressionAttributeNames={name: value for name, value in names.items() if name in said},
                    **({"ExpressionAttributeValues": used_values} if used_values else {}),
                    **update,
                )
                answer.pop("ResponseMetadata")
                found.append(answer)
            except ddb.exceptions.ClientError as error:
                found.append((error.response["Error"]["Code"], error.response["Error"]["Message"]))
        found.append(ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"])
        return found

    patched = outcomes()
    assert "Attributes" not in patched[0] and patched[1][0] == "ConditionalCheckFailedException"
    assert patched[2][0] == patched[3][0] == "ValidationException"
    assert patched[-1]["progress"]["M"]["u1"] == {"M": {"done": {"BOOL": True}, "items": {"N": "25"}}}
    monkeypatch.setattr(DynamoHandler, "update_item", DynamoHandler.update_item.generic)
    assert outcomes() == patched


def test_history_pages_are_as_asked_and_together_the_whole_history(local_stack):
    """GetExecutionHistory as AWS answers it: newest first when asked, a page of maxResults (100
    when absent), and a nextToken while more remain; the pages together are the whole history."""
    sfn = boto3.client("stepfunctions")
    steps = {f"P{n}": {"Type": "Pass", "Next": f"P{n + 1}"} for n in range(60)} | {"P60": {"Type": "Succeed"}}
    machine = sfn.create_state_machine(
        name="history-pages",
        definition=json.dumps({"StartAt": "P0", "States": steps}),
        roleArn="arn:aws:iam::123456789012:role/history-pages",
    )["stateMachineArn"]
    try:
        execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        wait_until(
            lambda: sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED", timeout=20
        )
        pages = list(
            sfn.get_paginator("get_execution_history").paginate(executionArn=execution, maxResults=7)
        )
        events = [event for page in pages for event in page["events"]]
        ids = [int(event["id"]) for event in events]
        assert (
            ids == list(range(1, len(ids) + 1))
            and len(ids) > 100
            and all(len(p["events"]) == 7 for p in pages[:-1])
        )
        first = sfn.get_execution_history(executionArn=execution)
        assert len(first["events"]) == 100 and "nextToken" in first
        newest = sfn.get_execution_history(executionArn=execution, reverseOrder=True, maxResults=3)["events"]
        assert [int(event["id"]) for event in newest] == ids[::-1][:3]
        assert newest[0]["type"] == "ExecutionSucceeded"
        for forged in ("abc", "0", "-7"):
            with pytest.raises(sfn.exceptions.InvalidToken):
                sfn.get_execution_history(executionArn=execution, nextToken=forged)
    finally:
        sfn.delete_state_machine(stateMachineArn=machine)


def test_a_cancelled_transaction_restores_what_motos_whole_table_backup_restores(local_stack, monkeypatch):
    """The backup of only the items a transaction names against moto's copy of the whole table:
    after a cancel (an update, a put, a delete, then a failed check) and after a commit, the table
    reads the same both ways."""
    from moto.dynamodb.models import DynamoDBBackend

    ddb, table = boto3.client("dynamodb"), "transaction-check"
    create_table(ddb, table, sort_key_type="S")
    items = [
        {
            "pk": {"S": f"p{n % 2}"},
            "sk": {"S": f"s{n}"},
            "m": {"M": {"n": {"N": str(n)}, "l": {"L": [{"S": "x"}]}}},
        }
        for n in range(6)
    ]

    def key(n: int) -> dict:
        return {"pk": {"S": f"p{n % 2}"}, "sk": {"S": f"s{n}"}}

    def transaction(check: str) -> list:
        return [
            {"Update": {"TableName": table, "Key": key(0), "UpdateExpression": "SET m.n = :v, m.l[0] = :v",
                        "ExpressionAttributeValues": {":v": {"S": "changed"}}}},
            {"Put": {"TableName": table, "Item": key(7) | {"new": {"BOOL": True}}}},
            {"Delete": {"TableName": table, "Key": key(2)}},
            {"ConditionCheck": {"TableName": table, "Key": key(4), "ConditionExpression": check}},
        ]  # fmt: skip

    def outcomes() -> list:
        for item in ddb.scan(TableName=table)["Items"]:
            ddb.delete_item(TableName=table, Key={"pk": item["pk"], "sk": item["sk"]})
        for item in items:
            ddb.put_item(TableName=table, Item=item)
        found = []
        with pytest.raises(ddb.exceptions.TransactionCanceledException):
            ddb.transact_write_items(TransactItems=transaction("attribute_not_exists(pk)"))
        found.append(sorted(ddb.scan(TableName=table)["Items"], key=json.dumps))
        ddb.transact_write_items(TransactItems=transaction("attribute_exists(pk)"))
        found.append(sorted(ddb.scan(TableName=table)["Items"], key=json.dumps))
        return found

    backed_up = outcomes()
    assert backed_up[0] == sorted(items, key=json.dumps) and len(backed_up[1]) == len(items)
    assert any(item.get("new") for item in backed_up[1])
    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items.generic)
    assert outcomes() == backed_up
    ddb.delete_table(TableName=table)


def test_an_update_expression_parsed_once_serves_each_request_its_own_values(record_table):
    """The parsed tree of an UpdateExpression is shared by every request that sends the string:
    each still writes its own values and paths, and a malformed one is refused each time."""
    ddb, table, key = record_table
    expression = "SET #p.#u.#i = :n, #s = :s"
    for unit, count, status in (("u0", "7", "a"), ("u2", "9", "b")):
        ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression=expression,
            ExpressionAttributeNames={"#p": "progress", "#u": unit, "#i": "items", "#s": "status"},
            ExpressionAttributeValues={":n": {"N": count}, ":s": {"S": status}},
        )
    item = ddb.get_item(TableName=table, Key=key)["Item"]
    assert item["progress"]["M"]["u0"]["M"]["items"] == {"N": "7"}
    assert item["progress"]["M"]["u2"]["M"]["items"] == {"N": "9"} and item["status"] == {"S": "b"}
    for _ in range(2):
        with pytest.raises(ddb.exceptions.ClientError, match="ValidationException"):
            ddb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET = :n",
                ExpressionAttributeValues={":n": {"N": "1"}},
            )


def test_a_json_path_parsed_once_reads_each_executions_own_input(local_stack):
    """One state machine's paths are parsed once and shared by its executions: each still reads
    its own input, and a path its input lacks still fails that execution (States.Runtime)."""
    sfn = boto3.client("stepfunctions")
    definition = {
        "StartAt": "Pick",
        "States": {"Pick": {"Type": "Pass", "Parameters": {"got.$": "$.order.line.sku"}, "End": True}},
    }
    machine = sfn.create_state_machine(
        name="json-paths",
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/json-paths",
    )["stateMachineArn"]
    try:
        outputs = []
        for sku in ("a", "b", None):
            line = {"sku": sku} if sku else {"qty": 1}
            arn = sfn.start_execution(
                stateMachineArn=machine, name=f"pick-{sku}", input=json.dumps({"order": {"line": line}})
            )
            ended = wait_until(
                lambda arn=arn: (
                    (d := sfn.describe_execution(executionArn=arn["executionArn"]))["status"] != "RUNNING"
                    and d
                ),
                timeout=20,
            )
            outputs.append((ended["status"], json.loads(ended.get("output", "null"))))
        assert outputs == [("SUCCEEDED", {"got": "a"}), ("SUCCEEDED", {"got": "b"}), ("FAILED", None)]
    finally:
        sfn.delete_state_machine(stateMachineArn=machine)


def test_an_update_on_a_table_with_a_stream_still_records_the_old_image(local_stack):
    """UpdateItem no longer copies the item it starts from, except where moto needs the copy: the
    stream record of a table with a stream holds the item as it was before the update."""
    ddb = boto3.client("dynamodb")
    table = ddb.create_table(
        TableName="streamed",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    try:
        ddb.put_item(
            TableName="streamed", Item={"pk": {"S": "a"}, "n": {"N": "1"}, "m": {"M": {"x": {"S": "1"}}}}
        )
        ddb.update_item(
            TableName="streamed", Key={"pk": {"S": "a"}}, UpdateExpression="SET n = :n, m.x = :x",
            ExpressionAttributeValues={":n": {"N": "2"}, ":x": {"S": "2"}},
        )  # fmt: skip
        streams = boto3.client("dynamodbstreams")
        shard = streams.describe_stream(StreamArn=table["LatestStreamArn"])["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=table["LatestStreamArn"], ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        modify = [
            r for r in streams.get_records(ShardIterator=iterator)["Records"] if r["eventName"] == "MODIFY"
        ]
        assert [r["dynamodb"]["OldImage"] for r in modify] == [
            {"pk": {"S": "a"}, "n": {"N": "1"}, "m": {"M": {"x": {"S": "1"}}}}
        ]
        assert modify[0]["dynamodb"]["NewImage"]["m"] == {"M": {"x": {"S": "2"}}}
    finally:
        ddb.delete_table(TableName="streamed")


def test_scans_and_queries_read_in_place_answer_what_motos_copies_answered(record_table, monkeypatch):
    """Scan and Query read the stored items without copying them first: their answers (filtered,
    projected, through an index) are moto's own, and the stored item is left whole."""
    import copy as stdlib_copy

    from moto.dynamodb.models import table as table_module

    ddb, table, key = record_table
    ddb.put_item(TableName=table, Item={"pk": {"S": "s"}, "status": {"S": "done"}, "tags": {"SS": ["c"]}})
    names = {"#s": "status", "#p": "progress", "#u": "u1"}
    requests = [
        lambda: ddb.scan(TableName=table),
        lambda: ddb.scan(
            TableName=table, ProjectionExpression="#s, #p.#u, plan[2]", ExpressionAttributeNames=names
        ),
        lambda: ddb.scan(
            TableName=table, FilterExpression="#s = :s", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":s": {"S": "running"}}, ProjectionExpression="tags, plan[0].unit",
        ),
        lambda: ddb.scan(TableName=table, Limit=1),
        lambda: ddb.query(
            TableName=table, KeyConditionExpression="pk = :k", ExpressionAttributeValues={":k": key["pk"]},
            ProjectionExpression="#p.#u, #s", ExpressionAttributeNames=names,
        ),
    ]  # fmt: skip

    def answers() -> list[dict]:
        return [{k: v for k, v in request().items() if k != "ResponseMetadata"} for request in requests]

    in_place = answers()
    stored = ddb.get_item(TableName=table, Key=key)["Item"]
    assert set(stored) == {"pk", "status", "tags", "plan", "progress"}  # projections took nothing away
    monkeypatch.setattr(table_module, "copy", stdlib_copy)
    assert answers() == in_place


def test_requests_with_a_body_make_no_class_each(record_table):
    """moto's Flask apps run in debug mode, where each request with a body used to get a new
    subclass of its ``files`` dict (a debug-only error message): none is made now."""
    import gc

    from werkzeug.datastructures import ImmutableMultiDict

    ddb, table, key = record_table
    gc.disable()  # the classes are garbage only a collection frees: count them without one
    try:
        before = len(ImmutableMultiDict.__subclasses__())
        for _ in range(5):
            ddb.get_item(TableName=table, Key=key)
        assert len(ImmutableMultiDict.__subclasses__()) == before
    finally:
        gc.enable()
