"""moto's DynamoDB (5.2.5): how it copies, reads and answers items. Each patch gives moto's own
result (tests/unit/test_local_moto_patches compares both ways) with less work; the vacuum record
(~16 KB, five levels, read and updated several times per purge chunk) made each one count."""

from __future__ import annotations

import base64
import copy
import functools
import json
import threading
from collections import defaultdict
from typing import Any

_SETS = frozenset({"SS", "NS", "BS"})  # DynamoDB's set types


def plain_json_without_copies() -> None:
    """moto reads an item as plain JSON (every projected GetItem, every condition on a nested
    path) by deep-copying each value and then each of its members again, level by level: a
    vacuum record (plan, per-unit progress, stats; ~19 KB, five levels) cost ~30 ms a read. The
    same result, every container new, built in one pass."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    if getattr(DynamoType.to_regular_json, "one_pass", False):
        return

    def plain(value: Any) -> Any:
        if isinstance(value, DynamoType):
            return to_regular_json(value)
        if isinstance(value, dict):
            return {key: plain(member) for key, member in value.items()}
        if isinstance(value, list):
            return [plain(member) for member in value]
        return value  # str, bytes, bool, None: immutable

    def to_regular_json(self: DynamoType) -> dict[str, Any]:
        kind, inner = self.type, self.value
        if kind == "M":
            value: Any = {key: member_json(member) for key, member in inner.items()}
        elif kind == "L":
            value = [member_json(member) for member in inner]
        elif kind == "B" and isinstance(inner, str):
            value = base64.b64decode(inner)
        elif kind in _SETS:
            value = list(inner)  # of str or bytes: immutable
        else:
            value = inner  # str, bytes, bool, None: immutable
        return {kind: value}

    def member_json(member: Any) -> Any:
        return to_regular_json(member) if member.__class__ is DynamoType else plain(member)

    to_regular_json.one_pass = True  # type: ignore[attr-defined]
    to_regular_json.generic = DynamoType.to_regular_json  # type: ignore[attr-defined]
    DynamoType.to_regular_json = to_regular_json


# The DynamoDB operations whose answers are items (AttributeValue maps), counts and keys.
ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan"})


class _NotPlain(Exception):
    """A value the generic serializer must format (a timestamp, say)."""


def _wire(value: Any) -> Any:
    """``value`` as the JSON protocol puts it on the wire: blobs in base64; absent members dropped."""
    if isinstance(value, dict):
        return {key: _wire(member) for key, member in value.items() if member is not None}
    if isinstance(value, list):
        return [_wire(member) for member in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise _NotPlain(type(value).__name__)


def _blob(value: Any) -> str:
    """What ``json.dumps`` cannot write itself, as the JSON protocol writes it: a blob in base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise _NotPlain(type(value).__name__)


def items_answered_as_json() -> None:
    """moto formats every DynamoDB answer by walking botocore's output shape member by member:
    ~25 ms for one vacuum record, more than the read itself. An item answer holds nothing but
    JSON and blobs, so it is dumped as the JSON protocol has it (tests/unit/test_local_moto_patches
    compares both ways); any other answer, or one holding anything else, goes the generic way."""
    from moto.dynamodb.responses import DynamoResult

    if getattr(DynamoResult.execute_result, "generic", None):
        return
    generic = DynamoResult.execute_result

    def execute_result(self, context):
        if context.operation_model.name in ITEM_OPERATIONS and isinstance(self.result, dict):
            try:
                text = json.dumps(self.result, default=_blob)
                if "null" in text:  # an absent member to drop (or just the word): the full walk
                    text = json.dumps(_wire(self.result))
            except _NotPlain:
                return generic(self, context)
            return 200, {"Content-Type": "application/x-amz-json-1.0"}, text
        return generic(self, context)

    execute_result.generic = generic  # type: ignore[attr-defined]
    DynamoResult.execute_result = execute_result


def items_copied_in_one_pass() -> None:
    """moto copies a whole item twice for each UpdateItem (for the answer and for streams) and
    once for each item a Scan returns, through ``copy.deepcopy``, which keeps a memo entry for
    every nested value: for a vacuum record, updated once per chunk, that was a third of the
    update. Items are trees (no value is shared, none refers back), so one pass that builds new
    containers gives the same copy (tests/unit/test_local_moto_patches compares both ways)."""
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict

    if getattr(DynamoType.__deepcopy__, "one_pass", False):
        return

    def copy_value(value: Any) -> Any:
        if not isinstance(value, DynamoType):
            return copy.deepcopy(value)
        result = value.__class__.__new__(value.__class__)
        result.type = kind = value.type
        inner = value.value
        if kind == "M":
            result.value = {key: copy_value(member) for key, member in inner.items()}
        elif kind == "L":
            result.value = [copy_value(member) for member in inner]
        elif kind in _SETS:
            result.value = list(inner)
        else:  # str, bytes, bool, None: immutable
            result.value = inner
        return result

    def copy_item(self: Item, memo: dict) -> Item:
        result = self.__class__.__new__(self.__class__)
        result.hash_key = copy_value(self.hash_key)
        result.range_key = copy_value(self.range_key)
        attrs = LimitedSizeDict.__new__(LimitedSizeDict)  # no size check per key: it was checked
        dict.__init__(attrs, {key: copy_value(value) for key, value in self.attrs.items()})
        result.attrs = attrs
        return result

    def copy_type(self: DynamoType, memo: dict) -> DynamoType:
        return copy_value(self)

    copy_type.one_pass = True  # type: ignore[attr-defined]
    copy_type.generic = (DynamoType.__deepcopy__, Item.__deepcopy__)  # type: ignore[attr-defined]
    DynamoType.__deepcopy__ = copy_type
    Item.__deepcopy__ = copy_item


def projections_read_the_item_once() -> None:
    """moto projects an item by rendering it whole as plain JSON once per projected path: a step's
    read of the vacuum record (9 paths) rendered it 9 times. Rendered once: the paths are picked
    from the same rendering (they cannot overlap, moto refuses that, so no pick changes another)."""
    from moto.dynamodb.models.dynamo_type import Item, serializer
    from moto.dynamodb.models.utilities import find_nested_key

    if getattr(Item.project, "renders_once", False):
        return
    from botocore.utils import merge_dicts

    def project(self: Item, projection_expressions: list[list[str]]) -> Item:
        whole = self.to_regular_json()
        result: dict[str, Any] = {}
        for expression in projection_expressions:
            merge_dicts(result, find_nested_key(expression, whole))
        return Item(hash_key=self.hash_key, range_key=self.range_key, attrs=serializer.serialize(result)["M"])

    project.renders_once = True  # type: ignore[attr-defined]
    project.generic = Item.project  # type: ignore[attr-defined]
    Item.project = project


class _NothingToAnswer:
    """The updated item, as an UpdateItem answer with ``ReturnValues: NONE`` uses it."""

    @staticmethod
    def to_json() -> dict:
        return {"Attributes": {}}


class _BackendAnsweringNothing:
    """moto's DynamoDB backend, as its UpdateItem handler sees it when the answer holds no item:
    the item before the update is not copied and rendered (its key is still checked, with moto's
    own errors), and the item after it is not rendered. Everything else is the backend's own."""

    def __init__(self, backend) -> None:
        self._backend = backend

    def __getattr__(self, name: str):
        return getattr(self._backend, name)

    def get_item(self, table_name: str, keys: dict, projection_expressions=None) -> None:
        self._backend.get_keys_value(self._backend.get_table(table_name), keys)
        return None

    def update_item(self, *args, **kwargs) -> type[_NothingToAnswer]:
        self._backend.update_item(*args, **kwargs)
        return _NothingToAnswer


def updates_answer_only_what_is_asked() -> None:
    """moto's UpdateItem handler copies the item and renders it whole before the update, and
    renders it whole again after, to pick the attributes ``ReturnValues`` asks for, even when it
    asks for none: the default, and what OPS sends for each of a chunk's three record updates.
    With ``NONE`` the same handler runs (the same validation, errors and write) on a view of the
    backend that skips that copy and those renders (``_BackendAnsweringNothing``)."""
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler.update_item, "answers_only_what_is_asked", False):
        return
    generic, backend_of = DynamoHandler.update_item, DynamoHandler.dynamodb_backend.fget

    def update_item(self):
        if self.body.get("ReturnValues", "NONE") != "NONE":
            return generic(self)
        self.answering_nothing = True  # a handler serves one request
        try:
            return generic(self)
        finally:
            self.answering_nothing = False

    def dynamodb_backend(self):
        backend = backend_of(self)
        return _BackendAnsweringNothing(backend) if getattr(self, "answering_nothing", False) else backend

    update_item.answers_only_what_is_asked = True  # type: ignore[attr-defined]
    update_item.generic = generic  # type: ignore[attr-defined]
    DynamoHandler.update_item = update_item
    DynamoHandler.dynamodb_backend = property(dynamodb_backend)


def transactions_back_up_only_their_items() -> None:
    """To roll a cancelled TransactWriteItems back, moto deep-copies each table it names, whole,
    once per operation naming it: the OPS table (every record, trail and audit entry) copied two to
    four times per transaction, ~28 ms each. A transaction changes only the items it names, so the
    backup copies only those and shares the others, which nothing in it touches: a rollback
    restores what a whole copy would. A table with a stream, or an operation whose key cannot be
    read, is copied whole as before."""
    from moto.dynamodb import models

    if isinstance(models.copy, _TransactionBackups):
        return
    backups = _TransactionBackups()
    generic = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
        backups.local.named = _named_items(self, transact_items)
        try:
            return generic(self, transact_items)
        finally:
            backups.local.named = None

    transact_write_items.generic = generic  # type: ignore[attr-defined]
    models.copy = backups  # the module's name for ``copy``: it backs the tables up through it
    models.DynamoDBBackend.transact_write_items = transact_write_items


def _named_items(backend, transact_items: list[dict[str, Any]]) -> dict[str, set | None]:
    """table name -> the (hash, range) keys its operations name; None for a table whose keys
    cannot all be read (the generic whole copy then)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    named: dict[str, set | None] = {}
    for operation in transact_items:
        try:
            (kind, request), *_ = operation.items()
            table = backend.tables[request["TableName"]]
            key = request["Item"] if kind == "Put" else request["Key"]
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        except (AttributeError, KeyError, TypeError, ValueError):  # moto's own checks will answer it
            for request in operation.values() if isinstance(operation, dict) else ():
                if isinstance(request, dict) and isinstance(request.get("TableName"), str):
                    named[request["TableName"]] = None
            continue
        keys = named.setdefault(table.name, set())
        if keys is not None:
            keys.add((hash_value, range_value))
    return named


class _TransactionBackups:
    """``copy`` as moto's DynamoDB backend module sees it: a table named by the running transaction
    is backed up with only its named items copied; the item an UpdateItem on a table without a
    stream starts from is not copied (``updates_copy_for_streams_only``); everything else is
    ``copy``'s own."""

    def __init__(self) -> None:
        self.local = threading.local()

    def __getattr__(self, name: str):
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict | None = None) -> Any:
        from moto.dynamodb.models.dynamo_type import Item
        from moto.dynamodb.models.table import Table

        if isinstance(value, Item) and getattr(self.local, "updating_without_stream", False):
            return value  # the copy only feeds a stream record, and the table has no stream
        named = getattr(self.local, "named", None)
        keys = named.get(value.name) if named and isinstance(value, Table) else None
        if keys is None or value.stream_shard is not None:
            return copy.deepcopy(value, memo)
        backup = copy.copy(value)
        ranged = value.has_range_key
        backup.items = defaultdict(dict, {h: dict(v) if ranged else v for h, v in value.items.items()})
        for hash_value, range_value in keys:
            if ranged and range_value in value.items.get(hash_value, {}):
                backup.items[hash_value][range_value] = copy.deepcopy(value.items[hash_value][range_value])
            elif not ranged and hash_value in value.items:
                backup.items[hash_value] = copy.deepcopy(value.items[hash_value])
        return backup


def updates_copy_for_streams_only() -> None:
    """moto's UpdateItem deep-copies the item before changing it, for one use: the stream record
    of a table with a stream (the old image). OPS's tables have none, and the copy of a vacuum
    record (~16 KB, updated three times per chunk) was a fifth of the update's CPU. The item is
    copied when the table has a stream, as before. Run after ``transactions_back_up_only_their_items``
    (the module's ``copy`` is then the backups object)."""
    from moto.dynamodb import models

    backups = models.copy
    if not isinstance(backups, _TransactionBackups):
        raise RuntimeError("install transactions_back_up_only_their_items first")
    generic = models.DynamoDBBackend.update_item
    if getattr(generic, "copies_for_streams_only", False):
        return

    def update_item(self, table_name: str, *args, **kwargs):
        table = self.tables.get(table_name)
        backups.local.updating_without_stream = table is not None and table.stream_shard is None
        try:
            return generic(self, table_name, *args, **kwargs)
        finally:
            backups.local.updating_without_stream = False

    update_item.copies_for_streams_only = True  # type: ignore[attr-defined]
    models.DynamoDBBackend.update_item = update_item


def results_read_in_place() -> None:
    """moto's Scan and Query deep-copy every item they return, then only read the copies (filter,
    project, render). The local stack answers one DynamoDB request at a time, rendering included
    (``gateway.Gateway``), so no write can change an item while it is read: the items are read in
    place. A Scan of a service table copied every item it returned, ~10 s of a suite run."""
    from moto.dynamodb.models import table

    if isinstance(table.copy, _ReadInPlace):
        return
    table.copy = _ReadInPlace()  # the module's name for ``copy``; backups and restores still copy


class _ReadInPlace:
    """``copy`` as moto's table module sees it: an item, or a list of items (what Scan and Query
    copy), is returned as it is; anything else (a table's backup or restore) is copied."""

    def __getattr__(self, name: str):
        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: dict | None = None) -> Any:
        from moto.dynamodb.models.dynamo_type import Item

        if isinstance(value, Item) or (isinstance(value, list) and all(isinstance(v, Item) for v in value)):
            return value
        return copy.deepcopy(value, memo)


def update_expressions_parsed_once() -> None:
    """moto tokenises and parses an UpdateExpression twice per UpdateItem (the handler, then the
    backend), ~1 ms each for OPS's lockout and record updates, which are a handful of fixed
    strings. The tree is only read or copied before use (the validator deep-copies it), so a
    string's tree is parsed once; an expression that fails to parse fails every time, as before."""
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    if hasattr(UpdateExpressionParser.make, "cache_info"):
        return
    UpdateExpressionParser.make = staticmethod(functools.lru_cache(maxsize=1024)(UpdateExpressionParser.make))
