"""The local stack's fault layer: the SPEC parser, and the errors OPS's own AWS clients meet.

Errors are checked as botocore parses them (code + HTTP status) against the running local stack,
through ``g3n_ops.aws.client`` (the clients OPS's handlers use) where botocore's retries end in
success, and through a client the fault layer hooks the same way but without retries where every
attempt fails (botocore's backoff would otherwise spend ~15 s per call).
"""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from g3n_ops import aws, retry
from g3n_ops.contract.errors import AwsServerError, AwsThrottled
from g3n_ops_client.local.faults import FaultController, FaultSpecError, parse


# -- the parser --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "canonical"),
    [
        ("", "none"),
        (None, "none"),
        ("none", "none"),
        ("throttle=0.2", "throttle=0.2"),
        ("throttle=0.2, server=0.05,crash=0.1,latency=250", "throttle=0.2,server=0.05,crash=0.1,latency=250"),
        ("server=1.0@s3", "server=1@s3"),
        ("throttle=0.1,throttle=0.9@dynamodb", "throttle=0.1,throttle=0.9@dynamodb"),
        ("crash=.5@vacuum-steps", "crash=0.5@vacuum-steps"),
        ("latency=0", "latency=0"),
        ("throttle=1", "throttle=1"),
    ],
)
def test_good_specs_parse_to_their_canonical_form(spec, canonical):
    assert parse(spec).text() == canonical


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("throttel=0.2", "unknown fault"),
        ("throttle", "name=value"),
        ("throttle=", "plain non-negative number"),
        ("throttle=1.5", "between 0 and 1"),
        ("throttle=-0.1", "plain non-negative number"),
        ("throttle=nan", "plain non-negative number"),
        ("throttle=inf", "plain non-negative number"),
        ("throttle=1e-1", "plain non-negative number"),
        ("throttle=0x1", "plain non-negative number"),
        ("latency=-5", "plain non-negative number"),
        ("latency=60001", "at most 60000"),
        ("latency=99999999999999999999", "at most 60000"),
        ("server=1.0@s4", "unknown scope"),
        ("server=1.0@", "unknown scope"),
        ("crash=0.5@s3", "unknown scope"),  # crash is scoped to a steps function, not a service
        ("throttle=0.1,throttle=0.2", "twice"),
        ("throttle=0.1,,server=0.1", "empty entry"),
        ("throttle=0.1,", "empty entry"),
        ("throttle=0.1;server=0.2", "plain non-negative number"),
        ("NONE", "name=value"),
        ("Throttle=0.1", "unknown fault"),
        ("throttle=0.1\nserver=1", "plain non-negative number"),
    ],
)
def test_hostile_specs_are_refused_with_a_reason(spec, complaint):
    with pytest.raises(FaultSpecError, match=complaint):
        parse(spec)


def test_a_seed_makes_the_draws_reproducible_and_the_counts_exact():
    def pattern(seed):
        controller = FaultController("throttle=0.5", seed)
        return [controller.draw("throttle", "s3") for _ in range(200)], controller.status()["injected"]

    first, counts = pattern(7)
    assert pattern(7)[0] == first and pattern(8)[0] != first
    assert counts["throttle"] == sum(first) and 60 < sum(first) < 140


def test_draws_from_many_threads_are_all_counted():
    controller = FaultController("throttle=1.0", seed=1)
    threads = [
        threading.Thread(target=lambda: [controller.draw("throttle", "s3") for _ in range(500)])
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert controller.status()["injected"]["throttle"] == 8 * 500


# -- on the wire, against the local stack --------------------------------------------------------------
@pytest.fixture
def faults(local_stack):
    """The stack's fault controller, on a quiet stack: no execution an earlier test left running
    (a window's probes), no ending of one still to be delivered (execution-status) and no
    invocation in flight sends requests that draw the faults a test counts or times. Faults are
    off again afterwards, whatever the test did."""
    assert local_stack.quiesce(timeout=30), "executions or invocations still running"
    yield local_stack
    local_stack.set_faults(None)


@pytest.fixture
def bare(faults):
    """``bare(service)``: a client hooked exactly as ``aws.client``'s are, with no retries."""

    def make(service: str):
        client = boto3.session.Session().client(service, config=Config(retries={"total_max_attempts": 1}))
        faults.faults.hook(service, client)
        return client

    return make


def failure(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


TABLE = "g3n-local-ops"
CALLS = {
    "dynamodb-data": ("dynamodb", lambda c: c.get_item(TableName=TABLE, Key={"pk": {"S": "nothing"}})),
    "dynamodb-control": ("dynamodb", lambda c: c.describe_table(TableName=TABLE)),
    "s3": ("s3", lambda c: c.list_buckets()),
    "logs": ("logs", lambda c: c.describe_log_groups(limit=1)),
    "stepfunctions": ("stepfunctions", lambda c: c.list_state_machines()),
    "ssm": ("ssm", lambda c: c.describe_parameters(MaxResults=1)),
    "lambda": ("lambda", lambda c: c.list_functions(MaxItems=1)),
    "sns": ("sns", lambda c: c.list_topics()),
}
THROTTLED = {
    "dynamodb-data": ("ProvisionedThroughputExceededException", 400),
    "dynamodb-control": ("ThrottlingException", 400),
    "s3": ("SlowDown", 503),
    "logs": ("ThrottlingException", 400),
    "stepfunctions": ("ThrottlingException", 400),
    "ssm": ("ThrottlingException", 400),
    "lambda": ("TooManyRequestsException", 429),
    "sns": ("Throttling", 400),
}


@pytest.mark.parametrize("call", sorted(CALLS))
def test_throttle_gives_each_services_real_throttling_error(faults, bare, call):
    service, make = CALLS[call]
    faults.set_faults(f"throttle=1.0@{service}")
    assert failure(lambda: make(bare(service))) == THROTTLED[call]
    assert faults.fault_counts()["throttle"] == 1


@pytest.mark.parametrize("call", sorted(CALLS))
def test_server_gives_a_500(faults, bare, call):
    service, make = CALLS[call]
    faults.set_faults(f"server=1.0@{service}")
    expected = "InternalError" if service == "s3" else "InternalServerError"
    assert failure(lambda: make(bare(service))) == (expected, 500)


def test_botocore_retries_through_moderate_throttling(faults, monkeypatch):
    # Only this thread's faults are counted: the stack's own threads (a Lambda invocation an
    # earlier test left in flight) may send DynamoDB requests through OPS's clients meanwhile.
    own_faults, test_thread = [], threading.current_thread()
    draw = faults.faults.draw

    def counted(kind: str, scope: str) -> bool:
        hit = draw(kind, scope)
        if hit and threading.current_thread() is test_thread:
            own_faults.append(kind)
        return hit

    monkeypatch.setattr(faults.faults, "draw", counted)
    faults.set_faults("throttle=0.5@dynamodb", seed=3)
    ddb = aws.client("dynamodb")
    retried = [
        ddb.get_item(TableName=TABLE, Key={"pk": {"S": "nothing"}})["ResponseMetadata"]["RetryAttempts"]
        for _ in range(10)
    ]
    assert sum(retried) == len(own_faults) > 0  # every fault cost one retry, none lost


def test_the_retry_budget_ends_in_the_stable_code(faults, bare):
    faults.set_faults("throttle=1.0@dynamodb")
    with pytest.raises(AwsThrottled, match="ProvisionedThroughputExceededException"):
        retry.call(
            bare("dynamodb").get_item, TableName=TABLE, Key={"pk": {"S": "x"}}, doing="a read", budget=0.3
        )
    assert faults.fault_counts()["throttle"] > 1  # retry.call tried again before it gave up
    faults.set_faults("server=1.0@s3")
    with pytest.raises(AwsServerError, match="InternalError"):
        retry.call(bare("s3").list_buckets, doing="a listing", budget=0.3)


def test_a_scope_limits_the_fault_to_one_service(faults, bare):
    faults.set_faults("server=1.0@s3")
    assert failure(lambda: bare("s3").list_buckets()) == ("InternalError", 500)
    assert TABLE in bare("dynamodb").list_tables()["TableNames"]
    assert bare("logs").describe_log_groups(limit=1)["logGroups"]
    faults.set_faults("throttle=1.0,throttle=0@s3")  # the scoped entry wins for its service
    assert bare("s3").list_buckets()["Buckets"]
    assert failure(lambda: bare("dynamodb").list_tables())[0] == "ThrottlingException"


def test_clients_from_outside_ops_are_never_faulted(faults):
    faults.set_faults("throttle=1.0,server=1.0,latency=1")
    assert TABLE in boto3.client("dynamodb").list_tables()["TableNames"]
    assert boto3.client("s3").list_buckets()["Buckets"]
    assert boto3.session.Session().client("stepfunctions").list_state_machines()["stateMachines"]
    assert faults.fault_counts() == {"throttle": 0, "server": 0, "crash": 0, "latency": 0}


def test_suspended_reads_are_not_faulted(faults, bare):
    faults.set_faults("throttle=1.0")
    with faults.faults.suspended():
        assert TABLE in aws.client("dynamodb").list_tables()["TableNames"]
    assert failure(lambda: bare("dynamodb").list_tables())[0] == "ThrottlingException"


def test_latency_delays_each_call_of_its_service(faults):
    ddb, s3 = aws.client("dynamodb"), aws.client("s3")
    ddb.list_tables(), s3.list_buckets()  # warm the connections
    faults.set_faults("latency=300@dynamodb")
    started = time.monotonic()
    ddb.list_tables()
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    s3.list_buckets()
    assert time.monotonic() - started < 0.3
    assert faults.fault_counts()["latency"] == 1


def test_none_turns_faults_off_and_reset_clears_them(faults, bare):
    faults.set_faults("throttle=1.0")
    faults.set_faults("none")
    assert TABLE in bare("dynamodb").list_tables()["TableNames"]
    faults.set_faults("throttle=1.0")
    faults.reset(seed=False)
    assert faults.faults.status()["faults"] == "none"
    assert TABLE in bare("dynamodb").list_tables()["TableNames"]
