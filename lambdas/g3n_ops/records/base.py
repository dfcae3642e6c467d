"""What every typed record of the OPS table shares: attributes in snake_case, stored (and shown)
names in camelCase, unknown attributes kept, and the stored item's key order.

Absent and null are different things, and both are kept: ``document()`` shows exactly the fields
that are set (null ones included), in the order the item had them (fields set since come last),
so what the CLI, MCP and API show is what it was when the store handed out the item itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator
from pydantic.alias_generators import to_camel

# Storage-only attributes of an item (its key and the kind-index): never part of a record.
STORAGE_KEYS = ("pk", "kind", "sortKey")


class Part(BaseModel):
    """A record or a part of one. Older or newer items may hold more than is declared: kept as they
    are (and shown)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    def document(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)


class StoredRecord(Part):
    """A record that is an item of the OPS table, remembering the item's key order (or, made in
    code, the order its attributes were given in)."""

    _stored_order: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_stored_order(cls, data: Any, handler) -> Self:
        record = handler(data)
        if isinstance(data, Mapping):  # by stored name, or (made in code) by attribute
            fields = cls.model_fields
            record._stored_order = tuple(
                (fields[name].alias or name) if name in fields else name for name in data
            )
        return record

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Self:
        """The record an OPS-table item holds (its storage keys dropped, its key order kept)."""
        return cls.model_validate({key: value for key, value in item.items() if key not in STORAGE_KEYS})

    def document(self) -> dict[str, Any]:
        """The record as stored and shown: camelCase, the fields that are set, in stored order."""
        dumped = super().document()
        position = {name: index for index, name in enumerate(self._stored_order)}
        last = len(position)
        return dict(sorted(dumped.items(), key=lambda pair: position.get(pair[0], last)))
