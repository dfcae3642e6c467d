"""The local stack's reset: skipped when nothing could have changed since the last one, full
otherwise (the gateway counts every AWS request that may write)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto.dynamodb.models import dynamodb_backends

from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.local.defaults import LOCAL_ACCOUNT, LOCAL_REGION
from g3n_ops_client.local.gateway import may_write
from g3n_ops_client.local.in_process import DynamoDBItems
from tests.support import SECRET

TABLE = "g3n-local-cat-products"


def environ(method: str, path: str = "/", target: str | None = None, form: str | None = None) -> dict:
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO(b"")}
    if target:
        env["HTTP_X_AMZ_TARGET"] = target
    if form is not None:
        env.update(
            CONTENT_TYPE="application/x-www-form-urlencoded; charset=utf-8", CONTENT_LENGTH=str(len(form))
        )
        env["wsgi.input"] = io.BytesIO(form.encode())
    return env


@pytest.mark.parametrize(
    ("request_environ", "writes"),
    [
        (environ("GET", "/bucket/key"), False),
        (environ("HEAD", "/bucket/key"), False),
        (environ("PUT", "/bucket/key"), True),
        (environ("POST", "/bucket", form=None), True),  # S3 DeleteObjects
        (environ("DELETE", "/bucket/key"), True),
        (environ("POST", target="DynamoDB_20120810.Query"), False),
        (environ("POST", target="DynamoDB_20120810.BatchGetItem"), False),
        (environ("POST", target="DynamoDB_20120810.BatchWriteItem"), True),
        (environ("POST", target="AWSStepFunctions.StartExecution"), True),
        (environ("POST", target="Logs_20140328.FilterLogEvents"), False),
        (environ("POST", "/2015-03-31/functions/f/invocations"), False),  # the handler's calls count
        (environ("POST", form="Action=GetCallerIdentity&Version=2011-06-15"), False),
        (environ("POST", form="Action=CreateTopic&Name=t"), True),
        (environ("POST", "/moto-api/reset"), True),
    ],
)
def test_what_counts_as_a_write(request_environ, writes):
    assert may_write(request_environ) is writes


def test_a_query_body_is_still_there_for_moto_after_it_was_read():
    env = environ("POST", form="Action=CreateTopic&Name=t")
    may_write(env)
    assert env["wsgi.input"].read() == b"Action=CreateTopic&Name=t"


def item_count(table: str) -> int:
    return boto3.client("dynamodb").scan(TableName=table, Select="COUNT")["Count"]


def test_reads_keep_the_stack_fresh_and_a_write_makes_the_next_reset_full(local_stack):
    manifest = local_stack.reset(seed=True)
    seeded = sum(manifest["tables"][TABLE].values())
    boto3.client("sts").get_caller_identity()
    boto3.client("s3").list_objects_v2(Bucket=next(iter(manifest["buckets"])))
    assert item_count(TABLE) == seeded
    OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url)).stat()  # a handler that only reads
    assert not local_stack.changed
    again = local_stack.reset(seed=True)
    assert again == manifest and again is not manifest  # the same state, a copy the test may change

    ddb = boto3.client("dynamodb")
    keys = [key["AttributeName"] for key in ddb.describe_table(TableName=TABLE)["Table"]["KeySchema"]]
    item = ddb.scan(TableName=TABLE, Limit=1)["Items"][0]
    ddb.delete_item(TableName=TABLE, Key={name: item[name] for name in keys})
    assert item_count(TABLE) == seeded - 1
    boto3.client("sns").create_topic(Name="left-behind")
    assert local_stack.changed
    assert local_stack.reset(seed=True) == manifest
    assert item_count(TABLE) == seeded  # the deleted item is back
    topics = [topic["TopicArn"] for topic in boto3.client("sns").list_topics()["Topics"]]
    assert not [arn for arn in topics if arn.endswith(":left-behind")]  # only what the stack provisions
    assert not local_stack.changed


def test_a_reset_without_seed_after_a_seeded_one_is_full(local_stack):
    local_stack.reset(seed=True)
    assert local_stack.reset(seed=False) is None
    assert item_count(TABLE) == 0
    assert local_stack.reset(seed=False) is None and item_count(TABLE) == 0


def test_a_reseed_stores_each_item_as_first_seeded_even_after_one_was_changed(local_stack):
    """A full reset seeds the items again from copies of what the first seed stored: every item
    as it was seeded, the one updated in place and the one deleted included, and none shared with
    the copies kept for the next seed."""

    def items() -> list[dict]:
        return sorted(ddb.scan(TableName=TABLE)["Items"], key=lambda found: repr(sorted(found.items())))

    ddb = boto3.client("dynamodb")
    local_stack.reset(seed=True)
    local_stack.reset(seed=True)  # nothing changed: the same state, whichever way it came
    seeded = items()
    keys = [key["AttributeName"] for key in ddb.describe_table(TableName=TABLE)["Table"]["KeySchema"]]
    changed, deleted = ({name: item[name] for name in keys} for item in seeded[:2])
    ddb.update_item(
        TableName=TABLE, Key=changed, UpdateExpression="SET amount = :a REMOVE #n",
        ExpressionAttributeNames={"#n": "name"}, ExpressionAttributeValues={":a": {"N": "-1"}},
    )  # fmt: skip
    ddb.delete_item(TableName=TABLE, Key=deleted)
    local_stack.reset(seed=True)
    assert items() == seeded
    table = dynamodb_backends[LOCAL_ACCOUNT][LOCAL_REGION].get_table(TABLE)
    stored = {id(item) for item in table.all_items()}
    _, _, templates = DynamoDBItems._stored[TABLE]
    assert len(templates) == len(seeded) and not stored & {id(item) for item in templates}


def test_service_resources_made_in_process_describe_as_ones_made_through_the_api(local_stack):
    """A reset makes the registry's tables, buckets and log groups in moto's backends directly:
    each describes as the same definition sent through the AWS API does."""
    from g3n_ops_client.local.provision import table_definition

    local_stack.reset(seed=False)
    services = local_stack.provisioner.registry.services
    tables = [t for s in services for t in s.tables]
    with_index, without = next(t for t in tables if t.org_index), next(t for t in tables if not t.org_index)
    bucket = next(b for s in services for b in s.buckets)
    group = next(g for s in services for g in s.log_groups)
    ddb, s3, logs = boto3.client("dynamodb"), boto3.client("s3"), boto3.client("logs")

    def described(found: dict, name: str, varying: set[str]) -> str:
        """What describes the resource, its own name (in ARNs too) and times left out."""
        kept = {key: value for key, value in found.items() if key not in varying}
        return json.dumps(kept, default=str, sort_keys=True).replace(name, "NAME")

    def described_table(name: str) -> str:
        return described(ddb.describe_table(TableName=name)["Table"], name, {"TableId", "CreationDateTime"})

    def described_group(name: str) -> str:
        groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        (found,) = [found for found in groups if found["logGroupName"] == name]
        return described(found, name, {"creationTime"})

    for table in (with_index, without):
        twin = {**table_definition(table), "TableName": f"{table.name}-twin"}
        ddb.create_table(**twin)
        assert described_table(table.name) == described_table(twin["TableName"])
    s3.create_bucket(Bucket=f"{bucket}-twin")
    s3.put_bucket_versioning(Bucket=f"{bucket}-twin", VersioningConfiguration={"Status": "Enabled"})
    for ask in (s3.get_bucket_versioning, s3.get_bucket_location, s3.get_bucket_acl):
        made, twin = ask(Bucket=bucket), ask(Bucket=f"{bucket}-twin")
        assert made.pop("ResponseMetadata") and twin.pop("ResponseMetadata") and made == twin
    logs.create_log_group(logGroupName=f"{group}-twin")
    assert described_group(group) == described_group(f"{group}-twin")


def test_quiesce_stops_every_execution_and_delivers_its_ending_before_it_returns(ops, local_stack):
    """What the fault tests start from: after ``quiesce`` nothing runs, and no ending is left for
    execution-status to act on later (its requests would land inside the next test)."""
    start = datetime.now(UTC) + timedelta(minutes=5)
    window = ops.maintenance.schedule(SECRET, "stopped by quiesce", 60, start)
    ops.maintenance.start(SECRET, window["maintenanceId"])
    delivered = len(local_stack.provisioner.status_watcher.delivered)
    assert local_stack.quiesce()
    assert not local_stack.provisioner.running_executions()
    assert len(local_stack.provisioner.status_watcher.delivered) > delivered
    assert local_stack.provisioner.status_watcher.sweep() == 0
