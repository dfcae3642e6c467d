"""The state machines as Amazon States Language files: the single source of truth.

CDK deploys these files with DefinitionSubstitutions; the local stack substitutes the same
``${Placeholder}`` names and runs them on moto's interpreter.
"""

from __future__ import annotations

import json
import re
from importlib import resources

PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


def read_asl(file_name: str) -> str:
    return (resources.files(__name__) / file_name).read_text()


def placeholders(definition: str) -> set[str]:
    return set(PLACEHOLDER.findall(definition))


def render(definition: str, substitutions: dict[str, str]) -> str:
    """Fill every placeholder; a missing substitution is an error, not a silent literal."""
    missing = placeholders(definition) - substitutions.keys()
    if missing:
        raise KeyError(f"no substitution for {sorted(missing)}")
    rendered = PLACEHOLDER.sub(lambda match: substitutions[match.group(1)], definition)
    json.loads(rendered)  # fail here, not inside the interpreter, if the result is not JSON
    return rendered
