"""Count string-key accesses on records in the product: ``x["camelKey"]`` and ``x.get("camelKey")``
with a lower-case first letter (record fields are camelCase; AWS response keys start upper-case),
per layer. The measure issue 19 asks for before and after typed records.

Usage: python -m tools.record_key_accesses [--files]
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "lambdas" / "g3n_ops"
LAYERS = ("domain", "store", "handlers")
ACCESS = re.compile(r"""\[\s*"([a-z][A-Za-z0-9]*)"\s*\]|\.get\(\s*"([a-z][A-Za-z0-9]*)\"""")


def count() -> Counter[str]:
    found: Counter[str] = Counter()
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            found[str(path.relative_to(ROOT))] = len(ACCESS.findall(path.read_text()))
    return found


def main() -> None:
    found = count()
    if "--files" in sys.argv:
        for path, number in found.most_common():
            if number:
                print(f"{number:5d}  {path}")
    for layer in LAYERS:
        print(f"{layer:10s} {sum(n for path, n in found.items() if path.startswith(layer + '/')):5d}")
    print(f"{'total':10s} {sum(found.values()):5d}")


if __name__ == "__main__":
    main()
