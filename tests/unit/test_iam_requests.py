"""Each AWS request, as botocore puts it on the wire, maps to the IAM checks AWS makes for it
(``g3n_ops_client/local/iam/requests.py``): the action (not always the operation's name), the
resource ARN and ``dynamodb:LeadingKeys``. No network: botocore's ``before-send`` hands the
prepared request over and answers it."""

from __future__ import annotations

import subprocess
import sys
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from g3n_ops_client.local.iam.requests import Check, Mapper, parse

ACCOUNT, REGION = "123456789012", "us-east-1"
OPS = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/g3n-local-ops"
KEYS = {("g3n-local-ops", None): "pk", ("g3n-local-ops", "kind-index"): "kind", ("orders", None): "orgcode"}
mapper = Mapper(account=ACCOUNT, region=REGION, key_schema=lambda table, index: KEYS.get((table, index)))


_session = boto3.session.Session()
_NO_RETRY = Config(retries={"total_max_attempts": 1})


def checks_of(service: str, operation: str, session=_session, **params) -> list[Check]:
    """The checks for one call, from the request botocore would send."""
    sent = []
    client = session.client(
        service, region_name=REGION, endpoint_url="http://127.0.0.1:1", config=_NO_RETRY,
        aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x",
    )  # fmt: skip

    def capture(request, **_):
        sent.append(request)
        return AWSResponse(request.url, 400, {}, None)

    client.meta.events.register("before-send", capture)
    with pytest.raises(Exception):  # noqa: B017 (the fake 400 answer)
        getattr(client, operation)(**params)
    request = sent[0]
    url = urlsplit(request.url)
    headers = {key.lower(): value for key, value in request.headers.items()}
    headers = {key: value.decode() if isinstance(value, bytes) else value for key, value in headers.items()}
    body = request.body or b""
    body = body.encode() if isinstance(body, str) else body
    parsed = parse(request.method, url.path, url.query, headers, body)
    assert parsed is not None
    return mapper.checks(parsed)


def test_dynamodb_item_calls_carry_the_partition_key_as_leading_key():
    (check,) = checks_of("dynamodb", "get_item", TableName="g3n-local-ops", Key={"pk": {"S": "secret"}})
    assert (check.action, check.resource, check.context) == (
        "dynamodb:GetItem", OPS, {"dynamodb:LeadingKeys": ["secret"]},
    )  # fmt: skip
    (check,) = checks_of(
        "dynamodb", "put_item", TableName="g3n-local-ops", Item={"pk": {"S": "vacuum#1"}, "n": {"N": "1"}}
    )
    assert check.action == "dynamodb:PutItem" and check.context == {"dynamodb:LeadingKeys": ["vacuum#1"]}


def test_a_transaction_is_authorised_by_its_parts():
    checks = checks_of(
        "dynamodb",
        "transact_write_items",
        TransactItems=[
            {"Put": {"TableName": "g3n-local-ops", "Item": {"pk": {"S": "vacuum#1"}}}},
            {"Update": {"TableName": "g3n-local-ops", "Key": {"pk": {"S": "maintenance#state"}},
                        "UpdateExpression": "SET a = :a", "ExpressionAttributeValues": {":a": {"S": "x"}}}},
            {"Delete": {"TableName": "g3n-local-ops", "Key": {"pk": {"S": "lockout#secret"}}}},
            {"ConditionCheck": {"TableName": "g3n-local-ops", "Key": {"pk": {"S": "secret"}},
                                "ConditionExpression": "attribute_exists(pk)"}},
        ],
    )  # fmt: skip
    assert [(c.action, c.context["dynamodb:LeadingKeys"]) for c in checks] == [
        ("dynamodb:PutItem", ["vacuum#1"]),
        ("dynamodb:UpdateItem", ["maintenance#state"]),
        ("dynamodb:DeleteItem", ["lockout#secret"]),
        ("dynamodb:ConditionCheckItem", ["secret"]),
    ]
    assert {c.resource for c in checks} == {OPS}


def test_batch_write_is_its_own_action_with_every_key_of_each_table():
    requests = [
        {"DeleteRequest": {"Key": {"orgcode": {"S": org}, "id": {"S": "1"}}}} for org in ("B", "A", "B")
    ]
    (check,) = checks_of("dynamodb", "batch_write_item", RequestItems={"orders": requests})
    assert check.action == "dynamodb:BatchWriteItem"
    assert check.resource.endswith(":table/orders")
    assert check.context == {"dynamodb:LeadingKeys": ["A", "B"]}


def test_a_query_on_an_index_names_the_index_and_its_partition_key_value():
    (check,) = checks_of(
        "dynamodb", "query", TableName="g3n-local-ops", IndexName="kind-index",
        KeyConditionExpression="#k = :kind AND sortKey > :after",
        ExpressionAttributeNames={"#k": "kind"},
        ExpressionAttributeValues={":kind": {"S": "vacuum"}, ":after": {"S": "2026"}},
    )  # fmt: skip
    assert (check.action, check.resource) == ("dynamodb:Query", f"{OPS}/index/kind-index")
    assert check.context == {"dynamodb:LeadingKeys": ["vacuum"]}


def test_a_scan_has_no_leading_key():
    (check,) = checks_of("dynamodb", "scan", TableName="g3n-local-ops")
    assert check.action == "dynamodb:Scan" and check.context == {}


def test_s3_actions_are_not_the_operation_names():
    (check,) = checks_of("s3", "list_object_versions", Bucket="media", Prefix="ORG/")
    assert (check.action, check.resource) == ("s3:ListBucketVersions", "arn:aws:s3:::media")
    (check,) = checks_of("s3", "list_multipart_uploads", Bucket="media")
    assert (check.action, check.resource) == ("s3:ListBucketMultipartUploads", "arn:aws:s3:::media")
    (check,) = checks_of("s3", "abort_multipart_upload", Bucket="media", Key="ORG/a.bin", UploadId="u1")
    assert (check.action, check.resource) == ("s3:AbortMultipartUpload", "arn:aws:s3:::media/ORG/a.bin")


def test_s3_calls_map_the_same_after_clients_rewrote_the_models_the_local_stack_shares():
    """An S3 client drops ``/{Bucket}`` from the request URIs of the model it loaded; the local
    stack's sessions share their models, so the mapper must read the published ones. In a fresh
    process: the mapper caches the routes it reads first."""
    script = (
        "import boto3, sys\n"
        "from g3n_ops_client.local import moto_patches\n"
        "moto_patches.install()\n"
        "import tests.unit.test_iam_requests as t\n"
        "shared = boto3.session.Session()\n"
        "for _ in range(2):\n"
        "    (check,) = t.checks_of('s3', 'list_multipart_uploads', session=shared, Bucket='media')\n"
        "    print(check.action, check.resource)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["s3:ListBucketMultipartUploads arn:aws:s3:::media"] * 2


def test_delete_objects_needs_delete_object_for_every_key_and_delete_object_version_for_versions():
    checks = checks_of(
        "s3", "delete_objects", Bucket="media",
        Delete={"Objects": [{"Key": "ORG/a.bin", "VersionId": "v1"}, {"Key": "ORG/b.bin"}], "Quiet": True},
    )  # fmt: skip
    assert [(c.action, c.resource) for c in checks] == [
        ("s3:DeleteObject", "arn:aws:s3:::media/ORG/a.bin"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::media/ORG/a.bin"),
        ("s3:DeleteObject", "arn:aws:s3:::media/ORG/b.bin"),
    ]


def test_step_functions_logs_ssm_sns_and_lambda_name_their_resources():
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:g3n-local-ops-vacuum"
    (check,) = checks_of("stepfunctions", "start_execution", stateMachineArn=machine, input="{}")
    assert (check.action, check.resource) == ("states:StartExecution", machine)
    execution = machine.replace(":stateMachine:", ":execution:") + ":run-1"
    (check,) = checks_of("stepfunctions", "stop_execution", executionArn=execution)
    assert (check.action, check.resource) == ("states:StopExecution", execution)
    (check,) = checks_of(
        "logs", "put_log_events", logGroupName="/g3n/audit", logStreamName="2026/12/06",
        logEvents=[{"timestamp": 1, "message": "m"}],
    )  # fmt: skip
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/g3n/audit"
    assert (check.action, check.resource) == ("logs:PutLogEvents", f"{group}:log-stream:2026/12/06")
    (check,) = checks_of("logs", "describe_log_streams", logGroupName="/g3n/audit")
    assert (check.action, check.resource) == ("logs:DescribeLogStreams", f"{group}:*")
    (check,) = checks_of("ssm", "get_parameter", Name="/g3nretailstack/ops/registry")
    assert check.resource == f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/g3nretailstack/ops/registry"
    (check,) = checks_of("ssm", "get_parameters_by_path", Path="/g3nretailstack/ops", Recursive=True)
    assert (check.action, check.resource) == (
        "ssm:GetParametersByPath", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/g3nretailstack/ops",
    )  # fmt: skip
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:g3n-local-ops-events"
    (check,) = checks_of("sns", "publish", TopicArn=topic, Message="m")
    assert (check.action, check.resource) == ("sns:Publish", topic)
    (check,) = checks_of("lambda", "invoke", FunctionName="g3n-local-ops-vacuum-steps", Payload=b"{}")
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:g3n-local-ops-vacuum-steps"
    assert (check.action, check.resource) == ("lambda:InvokeFunction", function)
    (check,) = checks_of(
        "lambda", "invoke", FunctionName="g3n-local-ops-vacuum", Qualifier="live", Payload=b"{}"
    )
    assert check.resource.endswith(":function:g3n-local-ops-vacuum:live")


def test_get_caller_identity_needs_no_permission():
    assert checks_of("sts", "get_caller_identity") == []
