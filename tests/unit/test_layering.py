"""The layering, checked on the source: the domain reaches AWS only through gateways and the store
(the purge engine, the data plane, excepted), and no module uses another module's private names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = [ROOT / "lambdas", ROOT / "g3n_ops_client", ROOT / "infra"]
DOMAIN = ROOT / "lambdas" / "g3n_ops" / "domain"
DATA_PLANE = DOMAIN / "purge"
MOTO_PATCHES = ROOT / "g3n_ops_client" / "local" / "moto_patches"  # patches moto's own internals


def _modules(*folders: Path) -> list[Path]:
    return [path for folder in folders for path in sorted(folder.rglob("*.py"))]


def _imported_modules(tree: ast.Module) -> set[str]:
    """Names bound to modules by ``import a.b as x`` / ``from a import b`` (b a module or not)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.asname or alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names |= {alias.asname or alias.name for alias in node.names}
    return names


def test_the_domain_calls_aws_only_through_gateways_and_the_store():
    offenders = []
    for path in _modules(DOMAIN):
        if DATA_PLANE in path.parents:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module in ("g3n_ops.aws", "boto3")
                and any(alias.name == "client" for alias in node.names)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {node.module}.client")
            if isinstance(node, ast.Import) and any(alias.name == "boto3" for alias in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports boto3")
    assert not offenders


def test_no_module_uses_another_modules_private_names():
    offenders = []
    for path in _modules(*PRODUCT):
        if MOTO_PATCHES in path.parents:
            continue
        tree = ast.parse(path.read_text())
        modules = _imported_modules(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value.id}.{node.attr}")
    assert not offenders


MAX_MODULE_LINES = 400


def test_no_module_of_the_product_is_over_400_lines():
    # The purge engine too: a module over the bound mixes concerns a reader must find separately.
    too_long = {
        str(path.relative_to(ROOT)): lines
        for path in _modules(*PRODUCT)
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not too_long
