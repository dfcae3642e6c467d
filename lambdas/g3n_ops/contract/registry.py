"""The service registry's document: which platform services exist and where their data lives.

It is deploy-time data (``infra/registry.json``, expanded per stage by the stack and the local
stack) published as one SSM parameter, so every function and every client reads the same list
(the functions through ``g3n_ops.registry.load_registry``). The contract's one module that needs
more than the standard library: pydantic validates the document wherever it is read.
"""

from __future__ import annotations

import json
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

OrgLookup = Literal["index", "partition", "scan", "none"]
# Org codes as the platform writes them (the seed's TESTORG among them); matched exactly and
# case-sensitively everywhere, so TESTORG never touches testorg. A registry can narrow it.
DEFAULT_ORGCODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="forbid")


class KeyAttribute(_Model):
    attribute_name: str = Field(alias="attributeName")
    key_type: Literal["HASH", "RANGE"] = Field(alias="keyType")
    attribute_type: Literal["S", "N", "B"] = Field(alias="attributeType")


class ServiceTable(_Model):
    name: str
    key_schema: tuple[KeyAttribute, ...] = Field(alias="keySchema")
    org_index: str | None = Field(default=None, alias="orgIndex")
    org_lookup: OrgLookup = Field(alias="orgLookup")

    @property
    def key_names(self) -> list[str]:
        return [key.attribute_name for key in self.key_schema]


class Service(_Model):
    code: str
    name: str
    api: bool
    # A guarded URL of an API service (not an exempt one like /ping): it answers 503 while a
    # maintenance window is in force, so OPS can prove the window took effect.
    health_url: str | None = Field(default=None, alias="healthUrl")
    org_scoped: bool = Field(alias="orgScoped")
    tables: tuple[ServiceTable, ...]
    buckets: tuple[str, ...] = ()
    log_groups: tuple[str, ...] = Field(default=(), alias="logGroups")

    @model_validator(mode="after")
    def _api_services_have_a_health_url(self) -> Service:
        if self.api and not (self.health_url or "").startswith(("https://", "http://")):
            raise ValueError(f"API service {self.code} needs an http(s) healthUrl (maintenance probes it)")
        return self


class Registry(_Model):
    services: tuple[Service, ...]
    orgcode_pattern: str = Field(default=DEFAULT_ORGCODE_PATTERN, alias="orgcodePattern")

    @field_validator("orgcode_pattern")
    @classmethod
    def _anchored_regex(cls, pattern: str) -> str:
        re.compile(pattern)  # a bad pattern fails the deploy, not the first vacuum-org
        if not (pattern.startswith("^") and pattern.endswith("$")):
            raise ValueError("orgcodePattern must be anchored with ^ and $")
        return pattern

    @classmethod
    def from_template(cls, text: str, *, stage: str, account: str) -> Registry:
        """Expand ``{stage}``/``{account}`` in the registry file's text and validate it."""
        document = json.loads(text.replace("{stage}", stage).replace("{account}", account))
        document.pop("_comment", None)
        return cls.model_validate(document)

    def service(self, code: str) -> Service:
        for service in self.services:
            if service.code == code:
                return service
        raise KeyError(code)

    @property
    def api_services(self) -> list[Service]:
        return [service for service in self.services if service.api]

    def with_health_urls(self, base_url: str) -> Registry:
        """The same registry with each API service's health URL at ``<base_url>/<code>/health``
        (the local stack's stand-ins)."""
        services = tuple(
            service.model_copy(update={"health_url": f"{base_url.rstrip('/')}/{service.code}/health"})
            if service.api
            else service
            for service in self.services
        )
        return self.model_copy(update={"services": services})

    def to_document(self) -> dict:
        return self.model_dump(by_alias=True, mode="json")
