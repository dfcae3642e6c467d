"""The OPS table's shape, said once: the CDK construct (``infra/constructs/data.py``) and the local
stack (``g3n_ops_client/local/provision.py``) each translate it. Dependency-free, as ``cdk synth``
imports it. What only AWS has (point-in-time recovery, encryption, retention, deletion
protection) stays in the construct.
"""

from __future__ import annotations

from dataclasses import dataclass

from g3n_ops.contract.keys import KIND_INDEX  # hash: kind, range: sortKey (ISO timestamp)


@dataclass(frozen=True)
class Key:
    name: str
    type: str = "S"  # a DynamoDB attribute type: S, N or B


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: Key
    sort_key: Key | None = None
    projection: str = "ALL"


@dataclass(frozen=True)
class TableSpec:
    partition_key: Key
    sort_key: Key | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    billing_mode: str = "PAY_PER_REQUEST"

    def attributes(self) -> list[Key]:
        """Every key attribute of the table and its indexes, once each (AttributeDefinitions)."""
        found: dict[str, Key] = {}
        for index in (self, *self.indexes):
            for key in (index.partition_key, index.sort_key):
                if key is not None:
                    found.setdefault(key.name, key)
        return list(found.values())


def table_name(stage: str) -> str:
    return f"g3n-{stage}-ops"


OPS_TABLE = TableSpec(
    partition_key=Key("pk"),
    indexes=(Index(KIND_INDEX, partition_key=Key("kind"), sort_key=Key("sortKey")),),
    ttl_attribute="expiration",  # Powertools idempotency records and leases expire through it
)
