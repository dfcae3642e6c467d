"""The local stack enforces each function's deployed IAM, and the enforcement bites.

- A call a role does not allow is refused the way AWS refuses it, on every protocol OPS uses.
- Every statement the flows use is needed: one pass through the operations (reads, a window, a
  wrong code, a vacuum dry-run, a real org vacuum, vacuum-all --with-maintenance) records, per
  function and grant, a request the grant allowed; then each function loses its statements one at
  a time and each recorded request of that statement is checked again: AccessDenied every time
  (a request still allowed would mean a redundant statement).
- vacuum-all --with-maintenance fails without the maintenance bracket's grants, as it did on AWS
  before them, and the OPS-table keys each function touches stay inside ``infra/table_access.py``.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from g3n_ops import aws
from g3n_ops.settings import settings
from g3n_ops_client.errors import OpsClientError
from g3n_ops_client.local.iam.context import acting_as
from infra import catalogue
from infra.table_access import FUNCTION_TABLE_ACCESS
from tests.maintenance_support import soon, stop_running_executions
from tests.support import SECRET, wait_until
from tests.vacuum_support import PHRASE, plant_dry_run, stop_vacuum_executions, wait_done

ACCOUNT, REGION = "123456789012", "us-east-1"


def function(key: str) -> str:
    return catalogue.function_name("local", key)


@pytest.fixture
def iam(seeded, local_stack):
    yield local_stack.iam
    stop_running_executions()
    stop_vacuum_executions()


def denied(call) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value


def test_a_call_the_role_does_not_allow_is_refused_as_aws_refuses_it(iam):
    table = settings().table_name
    with acting_as(iam.principal(function("api"))):
        # DynamoDB (JSON): the API function may not read the secret's hash.
        error = denied(lambda: aws.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "secret"}}))
        assert error.response["Error"]["Code"] == "AccessDeniedException"
        message = error.response["Error"]["Message"]
        assert "dynamodb:GetItem" in message
        assert f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}" in message
        assert f"assumed-role/{function('api')}-role/{function('api')}" in message
        # ... while what it is granted goes through.
        aws.client("dynamodb").get_item(TableName=table, Key={"pk": {"S": "maintenance#state"}})
        # Step Functions (JSON 1.0), Lambda (REST-JSON), S3 (REST-XML).
        machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{function('vacuum')}"
        error = denied(lambda: aws.client("stepfunctions").start_execution(stateMachineArn=machine))
        assert error.response["Error"]["Code"] == "AccessDeniedException"
        assert "states:StartExecution" in error.response["Error"]["Message"]
        error = denied(
            lambda: aws.client("lambda").invoke(FunctionName=function("vacuum-steps"), Payload=b"{}")
        )
        assert error.response["Error"]["Code"] == "AccessDeniedException"
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        bucket = next(b for s in local_stack_registry(iam) for b in s.buckets)
        error = denied(lambda: aws.client("s3").list_object_versions(Bucket=bucket))
        assert error.response["Error"]["Code"] == "AccessDenied"
        assert "s3:ListBucketVersions" in error.response["Error"]["Message"]
    # The translation OPS applies to any of them names the role, never AWS's text.
    assert "IAM role lacks a permission" in aws.translate(error, doing="x").message


def local_stack_registry(iam):
    from g3n_ops.registry import load_registry

    return load_registry().services


def test_soft_mode_lets_a_refused_call_through_and_records_it(iam):
    before = len(iam.refusals)
    with iam.mode_set("soft"), acting_as(iam.principal(function("api"))):
        aws.client("dynamodb").get_item(TableName=settings().table_name, Key={"pk": {"S": "secret"}})
    (refusal,) = iam.refusals[before:]
    assert (refusal.principal, refusal.action) == (function("api"), "dynamodb:GetItem")


def test_the_admin_identity_and_other_keys_are_not_checked(iam):
    # The provisioner's, the tests' own clients and moto's interpreter act as the account's admin.
    boto3.client("dynamodb").get_item(TableName=settings().table_name, Key={"pk": {"S": "secret"}})


def run_the_flows(client, local_stack) -> None:
    """One pass through every function's work on the local stack."""
    client.ping(), client.stat()
    window = client.maintenance.schedule(SECRET, "Access check", 600, soon(600))
    client.maintenance.get(window["maintenanceId"]), client.maintenance.list()
    client.maintenance.start(SECRET, window["maintenanceId"])
    client.maintenance.update(SECRET, "halfway")
    client.maintenance.end(SECRET, "done")
    with pytest.raises(OpsClientError):
        client.vacuum.cancel("not-the-secret-code-1", "20261129-000000-abcdef")
    with pytest.raises(OpsClientError):
        client.rotate_secret("not-the-secret-code-2", "another-secret-code-3")
    dry = wait_done(client, client.vacuum.org(SECRET, "TESTORG", "access check", dry_run=True))
    assert dry["status"] == "completed"
    real = wait_done(client, client.vacuum.org(SECRET, "TESTORG", "access check"))
    assert real["status"] == "completed", real.get("error")
    client.vacuum.status(real["vacuumId"]), client.stat()
    plant_dry_run()
    bracketed = wait_done(client, client.vacuum.all(SECRET, "access check", PHRASE, with_maintenance=True))
    assert bracketed["status"] == "completed", bracketed.get("error")
    wait_until(
        lambda: client.maintenance.get(bracketed["maintenanceId"])["status"] == "ended",
        timeout=30,
        message="the run's window to end",
    )
    local_stack.provisioner.clear_secret_lockout()


@pytest.mark.slow
def test_every_statement_the_flows_use_is_needed_and_keys_stay_inside_table_access(iam, client, local_stack):
    with iam.recording() as samples:
        run_the_flows(client, local_stack)
    assert set(samples) == {function(spec.key) for spec in catalogue.FUNCTIONS}, "every function ran"

    still_allowed, checked = [], 0
    for name, grants in samples.items():
        principal = iam.principal(name)
        for statement in dict.fromkeys(grant[0] for grant in grants):
            reduced = [other for other in principal.statements if other is not statement]
            with iam.statements_replaced(name, reduced):
                for (used, action, resource), sample in grants.items():
                    if used is not statement:
                        continue
                    checked += 1
                    refused = iam.replay(sample)
                    if refused is None:
                        still_allowed.append((name, statement.sid or statement.source, action, resource))
                        continue
                    status, _, body = refused
                    assert status in (400, 403) and b"not authorized to perform" in body, body
    assert still_allowed == [], "a statement whose removal refuses nothing the flows did: redundant"
    assert checked > 40

    # The OPS-table keys each function used are the ones infra/table_access.py lists for it.
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{settings().table_name}"
    for name, grants in samples.items():
        access = FUNCTION_TABLE_ACCESS[name.rsplit("-ops-", 1)[1]]
        patterns = {*access.read, *access.write, *access.kinds}
        for statement, _, resource in grants:
            if resource.startswith(table_arn):
                (condition,) = statement.condition
                assert set(condition[2]) <= patterns, (name, condition)


def without_maintenance_bracket(iam, name: str):
    from infra.constructs.access import MAINTENANCE_BRACKET_SID  # the CDK: only where a test needs it

    principal = iam.principal(name)
    kept = [s for s in principal.statements if not s.sid.startswith(MAINTENANCE_BRACKET_SID)]
    assert len(kept) < len(principal.statements), f"{name} has no {MAINTENANCE_BRACKET_SID} statements"
    return iam.statements_replaced(name, kept)


@pytest.mark.slow  # runs a vacuum-all with its window through the real state machines
def test_vacuum_all_with_maintenance_fails_without_the_bracket_grants(iam, client):
    """As it did on AWS before the grants: the request function is refused its first read of the
    maintenance state (the run is refused, nothing starts); the steps function, at the end, is
    refused closing the window."""
    plant_dry_run()
    before = len(iam.refusals)
    with without_maintenance_bracket(iam, function("vacuum")), pytest.raises(OpsClientError) as refused:
        client.vacuum.all(SECRET, "no bracket grants", PHRASE, with_maintenance=True)
    assert refused.value.code == "aws-access-denied", refused.value
    # This call's refusals only: the whole list held an earlier test's, which alone made a check
    # for "maintenance" in any message pass. The state item's read is a GetItem on the OPS table.
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{settings().table_name}"
    refusals = {(r.principal, r.action, r.resource) for r in iam.refusals[before:]}
    assert (function("vacuum"), "dynamodb:GetItem", table_arn) in refusals, refusals

    plant_dry_run()
    before = len(iam.refusals)
    with without_maintenance_bracket(iam, function("vacuum-steps")):
        record = client.vacuum.all(SECRET, "no bracket grants for the steps", PHRASE, with_maintenance=True)
        final = wait_done(client, record)
        # The run is recorded completed first, then closes its window: the refusal comes after.
        wait_until(
            lambda: [r for r in iam.refusals[before:] if r.principal == function("vacuum-steps")],
            timeout=15,
            message="the steps function to be refused closing the window without its grants",
        )
    assert final["status"] in ("completed", "failed"), final
