"""The units of vacuum work. They travel through the state machine as JSON, so they are small,
frozen and validated: a unit cannot be both whole-resource and org-scoped."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

# Where a unit goes on from: opaque to callers, None = from the start.
Cursor = dict[str, Any] | None


class _Unit(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="forbid")

    service: str
    orgcode: str | None = None

    def dump(self) -> dict:
        return self.model_dump(by_alias=True, mode="json")


class TableUnit(_Unit):
    kind: Literal["table"] = "table"
    table: str
    key_names: tuple[str, ...] = Field(alias="keyNames", min_length=1)
    # all = the whole table; index/partition/scan = how one organisation's items are found.
    lookup: Literal["all", "index", "partition", "scan"]
    org_index: str | None = Field(default=None, alias="orgIndex")
    hash_key: str | None = Field(default=None, alias="hashKey")
    segment: int = Field(default=0, ge=0)
    total_segments: int = Field(default=1, alias="totalSegments", ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _consistent(self) -> TableUnit:
        if (self.lookup == "all") != (self.orgcode is None):
            raise ValueError("a whole-table unit has no orgcode and an org unit must have one")
        if self.lookup == "index" and not self.org_index:
            raise ValueError("an index lookup needs orgIndex")
        if self.lookup == "partition" and not self.hash_key:
            raise ValueError("a partition lookup needs hashKey")
        if self.segment >= self.total_segments or (self.total_segments > 1 and self.lookup != "all"):
            raise ValueError("only whole-table scans are split into segments")
        return self


class BucketUnit(_Unit):
    kind: Literal["bucket"] = "bucket"
    bucket: str

    @property
    def prefix(self) -> str:
        """Org objects live under ``<orgcode>/``; a whole-bucket unit lists everything."""
        return f"{self.orgcode}/" if self.orgcode else ""


class LogGroupUnit(_Unit):
    kind: Literal["logGroup"] = "logGroup"
    log_group: str = Field(alias="logGroup")

    @model_validator(mode="after")
    def _whole_stack_only(self) -> LogGroupUnit:
        if self.orgcode is not None:
            raise ValueError("log groups are not org-scoped; only vacuum-all purges them")
        return self


WorkUnit = Annotated[TableUnit | BucketUnit | LogGroupUnit, Field(discriminator="kind")]
UNIT: TypeAdapter[WorkUnit] = TypeAdapter(WorkUnit)


def describe(unit: TableUnit | BucketUnit | LogGroupUnit) -> str:
    """How a unit is named in messages."""
    if isinstance(unit, TableUnit):
        return unit.table if unit.total_segments == 1 else f"{unit.table} (segment {unit.segment})"
    if isinstance(unit, BucketUnit):
        return f"s3://{unit.bucket}/{unit.prefix}"
    return unit.log_group
