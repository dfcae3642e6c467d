"""The local stack's DynamoDB keeps the real service's promise that a conditional write (or a
transaction) is checked and applied atomically: racing writers on one item, one winner, and the
winner's write stays. OPS's mutex, lockout counter, checkpoints and the one-active-window rule all
rest on it. (moto alone breaks it: a cancelled transaction restores the whole table from a copy
taken before it began, erasing whatever another thread wrote meanwhile.)"""

from __future__ import annotations

import threading
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from g3n_ops.settings import settings

WRITERS = 16
ROUNDS = 3


FILLER = 2000  # items: a table of some size makes moto's copy-and-restore window wide


@pytest.fixture(scope="module")
def table(local_stack) -> str:
    local_stack.reset(seed=False)
    name = settings().table_name
    client = boto3.client("dynamodb")
    for start in range(0, FILLER, 25):
        batch = [{"PutRequest": {"Item": {"pk": {"S": f"filler#{n}"}}}} for n in range(start, start + 25)]
        client.batch_write_item(RequestItems={name: batch})
    return name


def _race(write) -> list[str]:
    """Every writer waits at a barrier, then writes once; the outcome of each."""
    barrier = threading.Barrier(WRITERS)
    outcomes: list[str] = []
    session = boto3.session.Session()
    clients = [session.client("dynamodb") for _ in range(WRITERS)]

    def writer(n: int) -> None:
        client = clients[n]
        barrier.wait()
        try:
            write(client, n)
            outcomes.append("won")
        except ClientError as error:
            outcomes.append(error.response["Error"]["Code"])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.slow
def test_racing_transactions_on_one_item_have_one_winner_whose_writes_stay(table):
    for _ in range(ROUNDS):
        flag = {"pk": {"S": f"flag#{uuid.uuid4()}"}}
        boto3.client("dynamodb").put_item(TableName=table, Item=flag | {"holder": {"S": "none"}})

        def take(client, n: int, flag=flag) -> None:
            client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": table,
                            "Key": flag,
                            "UpdateExpression": "SET holder = :me",
                            "ConditionExpression": "holder = :none",
                            "ExpressionAttributeValues": {":me": {"S": str(n)}, ":none": {"S": "none"}},
                        }
                    },
                    {"Put": {"TableName": table, "Item": {"pk": {"S": f"taken#{flag['pk']['S']}#{n}"}}}},
                ]
            )

        outcomes = _race(take)
        assert outcomes.count("won") == 1, outcomes
        holder = boto3.client("dynamodb").get_item(TableName=table, Key=flag)["Item"]["holder"]["S"]
        assert holder != "none", "the winner's update was rolled back by a loser"
        taken = boto3.client("dynamodb").scan(
            TableName=table,
            FilterExpression="begins_with(pk, :p)",
            ExpressionAttributeValues={":p": {"S": f"taken#{flag['pk']['S']}#"}},
        )["Items"]
        assert [item["pk"]["S"] for item in taken] == [f"taken#{flag['pk']['S']}#{holder}"]


@pytest.mark.slow
def test_a_cancelled_transaction_never_erases_what_others_wrote_meanwhile(table):
    """Writers put items one by one while other callers' transactions keep failing their
    condition: every item written is still there."""
    flag = {"pk": {"S": f"closed#{uuid.uuid4()}"}}
    boto3.client("dynamodb").put_item(TableName=table, Item=flag | {"open": {"BOOL": False}})
    written = [f"kept#{uuid.uuid4()}#{n}" for n in range(200)]
    done = threading.Event()
    session = boto3.session.Session()
    clients = [session.client("dynamodb") for _ in range(4)]

    def refused_transactions(client) -> None:
        while not done.is_set():
            try:
                client.transact_write_items(
                    TransactItems=[
                        {
                            "Update": {
                                "TableName": table,
                                "Key": flag,
                                "UpdateExpression": "SET #o = :t",
                                "ConditionExpression": "#o = :t",
                                "ExpressionAttributeNames": {"#o": "open"},
                                "ExpressionAttributeValues": {":t": {"BOOL": True}},
                            }
                        }
                    ]
                )
            except ClientError as error:
                assert error.response["Error"]["Code"] == "TransactionCanceledException"

    def writer(client, names: list[str]) -> None:
        for name in names:
            client.put_item(TableName=table, Item={"pk": {"S": name}})

    refusers = [threading.Thread(target=refused_transactions, args=(c,)) for c in clients[:2]]
    writers = [threading.Thread(target=writer, args=(c, written[n::2])) for n, c in enumerate(clients[2:])]
    for thread in refusers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in refusers:
        thread.join()
    scan = (
        boto3.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=table,
            FilterExpression="begins_with(pk, :p)",
            ExpressionAttributeValues={":p": {"S": "kept#"}},
        )
    )
    kept = {item["pk"]["S"] for page in scan for item in page["Items"]}
    assert kept >= set(written), f"{len(set(written) - kept)} of {len(written)} writes were erased"


@pytest.mark.slow
def test_a_read_sees_an_update_whole_never_half_applied(table):
    """One writer keeps setting many attributes to one value in one update; readers never see two
    values in one item (moto applies SET clauses one by one, in place)."""
    key = {"pk": {"S": f"whole#{uuid.uuid4()}"}}
    fields = [f"f{n}" for n in range(40)]
    assignment = ", ".join(f"{field} = :v" for field in fields)
    boto3.client("dynamodb").put_item(TableName=table, Item=key | {field: {"N": "0"} for field in fields})
    done = threading.Event()
    session = boto3.session.Session()
    clients = [session.client("dynamodb") for _ in range(3)]
    torn: list[set[str]] = []

    def writer(client) -> None:
        for value in range(1, 60):
            client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression=f"SET {assignment}",
                ExpressionAttributeValues={":v": {"N": str(value)}},
            )
        done.set()

    def reader(client) -> None:
        while not done.is_set():
            item = client.get_item(TableName=table, Key=key)["Item"]
            values = {item[field]["N"] for field in fields}
            if len(values) > 1:
                torn.append(values)

    threads = [threading.Thread(target=writer, args=(clients[0],))]
    threads += [threading.Thread(target=reader, args=(client,)) for client in clients[1:]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not torn, f"{len(torn)} reads saw half an update, e.g. {sorted(torn[0])}"
