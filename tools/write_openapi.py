"""Write the API's OpenAPI contract to docs/openapi.json, as ``GET /openapi.json`` serves it.

    .venv/bin/python tools/write_openapi.py           rewrite docs/openapi.json
    .venv/bin/python tools/write_openapi.py --check   exit 1 if it is stale

The contract is generated from the handlers' types (``g3n_ops.handlers.api.contract``);
``tests/e2e/test_openapi_contract.py`` fails when the committed file and the served one differ.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from g3n_ops.handlers.api import contract_text

DOCUMENT = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is stale")
    args = parser.parse_args(argv)
    fresh = contract_text()
    if args.check:
        if DOCUMENT.read_text() != fresh:
            print(f"{DOCUMENT} is stale: run python tools/write_openapi.py", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
