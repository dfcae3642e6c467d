"""What the local stack's DynamoDB item patches save (``g3n_ops_client/local/moto_patches/dynamodb.py``):
moto's own item copy, plain-JSON read, projection and UpdateItem answer vs the patched ones, on a
vacuum-sized record.

A run's record holds its plan, per-unit progress and per-service stats (~14 KB, five levels);
each purge chunk reads what its step needs of it (9 projected paths, as ``store.vacuum.get_run``)
and updates it: an in-flight token set and removed, progress set and stats added. This replays
that mix (3 updates + 1 projected and 1 whole consistent read per chunk) on moto in-process, the
patched and the unpatched way interleaved round by round, and prints CPU per chunk side by side.
Usage: .venv/bin/python bench/moto_item_patches.py
"""

from __future__ import annotations

import json
import os
import statistics
import time

import boto3
from moto import mock_aws
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.responses import DynamoHandler

from g3n_ops.store.vacuum import RUN_FIELDS  # what a step reads of its record
from g3n_ops_client.local import moto_patches

ROUNDS = 7
CHUNKS = 60
UNITS = 60
TABLE = "bench-record"
KEY = {"pk": {"S": "vacuum#20261207-000000-abcdef"}}
PATCHES: dict = {}  # what moto_patches.install() put in place


def attribute(value) -> dict:
    """A plain value as a DynamoDB attribute value (maps and lists nested)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, dict):
        return {"M": {key: attribute(member) for key, member in value.items()}}
    if isinstance(value, list):
        return {"L": [attribute(member) for member in value]}
    return {"S": value} if value is not None else {"NULL": True}


def record() -> dict:
    """A completed-looking vacuum record: plan, per-unit progress and per-service stats."""
    progress = {
        f"u{n:04d}": {
            "done": True,
            "cursor": None,
            "chunks": 4,
            "items": 120,
            "startedAt": "2026-12-07T00:00Z",
        }
        for n in range(UNITS)
    }
    services = {f"s{n:02d}": {"items": 300, "objects": 12, "bytes": 4096} for n in range(20)}
    plan = [{"unit": f"u{n:04d}", "kind": "table", "name": f"t-{n}"} for n in range(UNITS)]
    document = {"status": "running", "plan": plan, "progress": progress, "stats": {"services": services}}
    return KEY | {name: attribute(value) for name, value in (document | {"inFlight": {}}).items()}


def update(ddb, expression: str, names: dict, values: dict | None = None) -> None:
    values = {"ExpressionAttributeValues": values} if values else {}
    ddb.update_item(
        TableName=TABLE, Key=KEY, UpdateExpression=expression, ExpressionAttributeNames=names, **values
    )


def chunk(ddb, n: int) -> None:
    in_flight = {"#f": "inFlight", "#t": f"t{n}"}
    update(ddb, "SET #f.#t = :e", in_flight, {":e": {"N": "1"}})
    update(
        ddb,
        "SET #p.#u = :p ADD #s.#v.#c.#i :n",
        {
            "#p": "progress",
            "#u": f"u{n % UNITS:04d}",
            "#s": "stats",
            "#v": "services",
            "#c": "s01",
            "#i": "items",
        },
        {":p": attribute({"done": False, "cursor": "k"}), ":n": {"N": "25"}},
    )
    update(ddb, "REMOVE #f.#t", in_flight)
    ddb.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True)
    names = {f"#f{index}": field for index, field in enumerate(RUN_FIELDS)} | {
        "#p": "progress",
        "#u": "u0001",
    }
    projection = ", ".join([*(name for name in names if name.startswith("#f")), "#p.#u"])
    ddb.get_item(
        TableName=TABLE,
        Key=KEY,
        ConsistentRead=True,
        ProjectionExpression=projection,
        ExpressionAttributeNames=names,
    )


def swap_in(patched: bool) -> None:
    """moto's own copy, plain-JSON read, projection and UpdateItem handler, or the patches (each
    patch keeps moto's own)."""
    copy_type, copy_item = PATCHES["copy"]
    own_copy = copy_type.generic
    DynamoType.__deepcopy__, Item.__deepcopy__ = (copy_type, copy_item) if patched else own_copy
    for owner, name in ((DynamoType, "to_regular_json"), (Item, "project"), (DynamoHandler, "update_item")):
        setattr(owner, name, PATCHES[name] if patched else PATCHES[name].generic)


def main() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1"
    )
    moto_patches.install()
    PATCHES.update(
        copy=(DynamoType.__deepcopy__, Item.__deepcopy__),
        to_regular_json=DynamoType.to_regular_json,
        project=Item.project,
        update_item=DynamoHandler.update_item,
    )
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ddb.put_item(TableName=TABLE, Item=record())
        per_chunk: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(ROUNDS):
            for patched in (False, True):
                swap_in(patched)
                began = time.process_time()
                for n in range(CHUNKS):
                    chunk(ddb, n)
                per_chunk[patched].append((time.process_time() - began) / CHUNKS * 1000)
        swap_in(True)
    own, patched = statistics.median(per_chunk[False]), statistics.median(per_chunk[True])
    print(
        f"record: {len(json.dumps(record()))} bytes of JSON; {CHUNKS} chunks x {ROUNDS} rounds, interleaved"
    )
    print(f"moto's own items       : {own:6.2f} ms CPU per chunk (median)")
    print(f"patched items          : {patched:6.2f} ms CPU per chunk (median)")
    print(f"ratio                  : {own / patched:6.2f}x")


if __name__ == "__main__":
    main()
