"""The service registry is deploy-time data: its shape is a contract for vacuum and the CLI."""

import json

import pytest
from pydantic import ValidationError

from g3n_ops.contract.registry import Registry
from g3n_ops_client.local.provision import registry_template, table_definition


def test_catalogue_has_fourteen_api_services_and_twenty_tables(registry):
    assert len(registry.api_services) == 14
    assert sum(len(service.tables) for service in registry.services) == 20
    assert [s.code for s in registry.services if not s.api] == ["ntf"]


def test_users_and_sessions_are_cross_org(registry):
    cross_org = {service.code for service in registry.services if not service.org_scoped}
    assert cross_org == {"uas", "usm"}
    for code in cross_org:
        assert all(table.org_lookup == "none" for table in registry.service(code).tables)


def test_every_org_scoped_table_says_how_to_find_an_org(registry):
    for service in registry.services:
        for table in service.tables:
            if service.org_scoped:
                assert table.org_lookup in {"index", "partition", "scan"}, table.name
            if table.org_lookup == "index":
                assert table.org_index == "orgcode-index"
            if table.org_lookup == "partition":
                assert table.key_schema[0].attribute_name == "orgcode"


def test_stage_and_account_are_filled_in_everywhere(registry):
    text = json.dumps(registry.to_document())
    assert "{stage}" not in text and "{account}" not in text
    assert registry.service("cat").buckets == ("g3n-dev-111122223333-cat-media",)
    assert registry.service("cat").tables[0].name == "g3n-dev-cat-products"


def test_ops_own_table_is_never_in_the_registry(registry):
    names = [table.name for service in registry.services for table in service.tables]
    assert not any(name.endswith("-ops") for name in names)


def test_a_malformed_registry_is_rejected():
    broken = json.loads(registry_template())
    broken["services"][0]["tables"][0]["orgLookup"] = "guess"
    with pytest.raises(ValidationError):
        Registry.from_template(json.dumps(broken), stage="dev", account="1")


def test_table_definition_adds_the_orgcode_index_only_where_declared(registry):
    indexed = table_definition(registry.service("pay").tables[0])
    assert indexed["GlobalSecondaryIndexes"][0]["IndexName"] == "orgcode-index"
    assert {"AttributeName": "orgcode", "AttributeType": "S"} in indexed["AttributeDefinitions"]
    scanned = table_definition(registry.service("loy").tables[0])
    assert "GlobalSecondaryIndexes" not in scanned


def test_every_api_service_has_its_own_guarded_health_url(registry):
    urls = {service.code: service.health_url for service in registry.api_services}
    assert all(
        url and url.startswith("https://") and url.endswith(f"/{code}/health") for code, url in urls.items()
    )
    assert len(set(urls.values())) == 14
    assert all(not url.endswith(("/ping", "/stat")) for url in urls.values())  # exempt paths never flip
    assert registry.service("ntf").health_url is None  # no API: nothing to probe


def test_an_api_service_without_a_health_url_is_refused():
    document = json.loads(registry_template().replace("{stage}", "dev").replace("{account}", "1"))
    document.pop("_comment")
    del document["services"][0]["healthUrl"]
    with pytest.raises(ValidationError, match="needs an http"):
        Registry.model_validate(document)


def test_the_local_stack_points_health_urls_at_its_stand_ins(registry):
    local = registry.with_health_urls("http://127.0.0.1:4566/_ops/services/")
    assert local.service("cat").health_url == "http://127.0.0.1:4566/_ops/services/cat/health"
    assert local.service("ntf").health_url is None
    assert [s.code for s in local.services] == [s.code for s in registry.services]
