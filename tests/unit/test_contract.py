"""The contract is said once and stays dependency-free: the synth, the client and the guard read
the same names the functions write."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import g3n_maintenance_guard as guard
from g3n_ops.contract import keys, metrics, statuses
from g3n_ops.contract.maintenance import ACTIVE_ID_ATTRIBUTE, STATE_VALUE_ATTRIBUTE, state_item
from g3n_ops.contract.timestamps import iso, iso_seconds, parse_iso

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_CODE = ("aws_lambda_powertools", "g3n_ops.handlers", "g3n_ops.domain", "g3n_maintenance_guard")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(run.stdout.split())


def test_the_synth_loads_no_lambda_code():
    # Every module of the CDK app, imported as ``cdk synth`` does (infra imports nothing lazily:
    # no import sits inside a function), without running a synth.
    loaded = _modules_after(
        "import importlib, pkgutil, infra, infra.constructs\n"
        "for package in (infra, infra.constructs):\n"
        "    for module in pkgutil.iter_modules(package.__path__, package.__name__ + '.'):\n"
        "        importlib.import_module(module.name)"
    )
    assert "infra.stack" in loaded and "infra.constructs.monitoring" in loaded
    assert not {name for name in loaded if name.startswith(LAMBDA_CODE)}
    lazy = [
        f"{path.name}:{node.lineno}"
        for path in sorted((ROOT / "infra").rglob("*.py"))
        for function in ast.walk(ast.parse(path.read_text()))
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    assert not lazy, "an import inside an infra function escapes this check"


CONTRACT = ROOT / "lambdas" / "g3n_ops" / "contract"
THIRD_PARTY = {"boto3", "botocore", "pydantic", "aws_lambda_powertools", "aws_cdk"}


def _contract_modules(*, but: tuple[str, ...] = ()) -> list[str]:
    return [f"g3n_ops.contract.{path.stem}" for path in sorted(CONTRACT.glob("*.py")) if path.stem not in but]


def _product_modules(loaded: set[str]) -> set[str]:
    """The modules of the functions' code among ``loaded``, the contract (and the package) aside."""
    return {
        name
        for name in loaded
        if name.startswith(("g3n_ops.", "g3n_maintenance_guard")) and not name.startswith("g3n_ops.contract")
    }


def test_the_contract_imports_nothing_but_the_standard_library():
    loaded = _modules_after("import " + ", ".join(_contract_modules(but=("__init__", "registry"))))
    assert not {name.split(".")[0] for name in loaded} & THIRD_PARTY
    assert not _product_modules(loaded)


def test_the_registry_document_needs_pydantic_and_nothing_else_of_the_product():
    loaded = _modules_after("import g3n_ops.contract.registry")
    assert {name.split(".")[0] for name in loaded} & THIRD_PARTY == {"pydantic"}
    assert not _product_modules(loaded)


def test_the_client_and_the_mcp_server_import_the_contract_and_nothing_else_of_the_functions():
    loaded = _modules_after(
        "import g3n_ops_client.client, g3n_ops_client.operations.maintenance, "
        "g3n_ops_client.operations.vacuum, g3n_ops_client.cli, g3n_ops_client.mcp_server"
    )
    assert "g3n_ops_client.mcp_server.tools" in loaded and "g3n_ops.contract.registry" in loaded
    assert not _product_modules(loaded)


def test_infra_imports_the_contract_and_the_settings_and_nothing_else_of_the_functions():
    loaded = _modules_after("import infra.stack")
    assert "g3n_ops.contract.table" in loaded
    assert _product_modules(loaded) == {"g3n_ops.settings"}


def test_the_guard_library_emits_the_names_the_alarms_watch():
    # The guard ships as a layer of its own and cannot import OPS: its names are held equal here.
    assert guard.METRIC_NAMESPACE == metrics.GUARD_NAMESPACE
    assert guard.FAIL_OPEN_METRIC == metrics.GuardMetric.FAIL_OPEN
    assert guard.STALE_SERVED_METRIC == metrics.GuardMetric.STALE_SERVED
    assert guard.BYPASS_METRIC == metrics.GuardMetric.BYPASSED


def test_the_guard_library_reads_the_state_item_ops_writes():
    written = state_item({"active": True, "maintenanceId": "mw-20261201-3f2a9c1d"})
    assert guard.STATE_KEY == written["pk"] == keys.MAINTENANCE_STATE_PK
    assert set(written) == {"pk", STATE_VALUE_ATTRIBUTE, ACTIVE_ID_ATTRIBUTE}
    assert STATE_VALUE_ATTRIBUTE == "value"  # the guard's DynamoDBProvider(value_attr="value")


def test_statuses_list_in_lifecycle_order_as_plain_strings():
    assert statuses.MAINTENANCE_STATUSES == ("scheduled", "active", "ended", "cancelled")
    assert statuses.VACUUM_STATUSES[:2] == ("pending", "running")
    assert all(type(status) is str for status in (*statuses.VACUUM_STATUSES, *statuses.VACUUM_FINAL))
    assert {"completed", "cancelled", "failed"} == statuses.VACUUM_FINAL


def test_one_timestamp_format_utc_with_z():
    from datetime import UTC, datetime, timedelta, timezone

    moment = datetime(2026, 12, 1, 2, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    assert iso(moment) == "2026-12-01T00:00:00.123Z"
    assert iso_seconds(moment) == "2026-12-01T00:00:00Z"
    assert iso(datetime(2026, 12, 1)) == "2026-12-01T00:00:00.000Z"  # naive is UTC
    assert parse_iso("2026-12-01T00:00:00.123Z") == moment.astimezone(UTC).replace(microsecond=123000)
    assert parse_iso("2026-12-01T00:00:00") == datetime(2026, 12, 1, tzinfo=UTC)
