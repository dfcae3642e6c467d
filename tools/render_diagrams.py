"""Render each state machine in ``workflows/*.asl.json`` as a Mermaid diagram in docs/architecture.md.

    .venv/bin/python tools/render_diagrams.py           rewrite the generated sections
    .venv/bin/python tools/render_diagrams.py --check   exit 1 if any of them is stale

The ASL files are the single source of truth, so the diagrams are generated, never drawn by hand:
each lives between ``<!-- BEGIN GENERATED: <name> -->`` and ``<!-- END GENERATED: <name> -->``
(``<name>`` = the file name without ``.asl.json``); everything outside the markers is prose and is
left alone. A machine without a section gets one appended; a section whose ASL file is gone is
removed. ``tests/unit/test_diagrams.py`` fails when the committed file differs from a fresh render.

The diagram is a ``stateDiagram-v2``: every state with its type in the box, Choice rules as edge
labels (conditions summarised), Catch edges labelled with the errors they catch, Map and Parallel
iterators as nested (composite) states, and Choice/Wait/Succeed/Fail drawn in their own styles.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
DOCUMENT = ROOT / "docs" / "architecture.md"
COMMAND = "python tools/render_diagrams.py"

BEGIN = "<!-- BEGIN GENERATED: {name} -->"
END = "<!-- END GENERATED: {name} -->"
_SECTION = re.compile(
    r"<!-- BEGIN GENERATED: (?P<name>[\w.-]+) -->\n.*?<!-- END GENERATED: (?P=name) -->\n?", re.DOTALL
)

# One look per kind of state that is not plain work (Mermaid state diagrams style by class).
_STYLES = {
    "choice": "fill:#fff4d6,stroke:#b7791f",
    "wait": "fill:#e6f0ff,stroke:#2b6cb0,stroke-dasharray:4 3",
    "succeed": "fill:#e3f9e5,stroke:#2f855a",
    "fail": "fill:#fde2e1,stroke:#c53030,color:#742a2a",
}
_OPERATORS = {
    "Equals": "==",
    "LessThan": "<",
    "GreaterThan": ">",
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
    "Matches": "matches",
}
_TYPES = ("String", "Numeric", "Boolean", "Timestamp")


@dataclass(frozen=True)
class Machine:
    name: str  # file name without .asl.json
    source: str  # path shown in the generated section
    definition: dict


def load_machines(workflows: Path = WORKFLOWS) -> list[Machine]:
    return [
        Machine(
            name=path.name.removesuffix(".asl.json"),
            source=f"{workflows.name}/{path.name}",
            definition=json.loads(path.read_text()),
        )
        for path in sorted(workflows.glob("*.asl.json"))
    ]


# -- ASL → Mermaid ----------------------------------------------------------------------------------
def render_mermaid(definition: dict) -> str:
    """The ``stateDiagram-v2`` source for one ASL definition (deterministic: follows ASL order)."""
    renderer = _Renderer()
    body = renderer.scope(definition, depth=1)
    lines = ["stateDiagram-v2", *body]
    lines += [f"    classDef {kind} {style}" for kind, style in _STYLES.items() if kind in renderer.classes]
    lines += [f"    class {ident} {kind}" for ident, kind in renderer.styled]
    return "\n".join(lines) + "\n"


class _Renderer:
    def __init__(self) -> None:
        self.idents: dict[str, str] = {}
        self.styled: list[tuple[str, str]] = []
        self.classes: set[str] = set()

    def ident(self, name: str) -> str:
        """A Mermaid id for a state name (ASL names are unique across the machine, nesting included)."""
        if name not in self.idents:
            base = "".join(word[:1].upper() + word[1:] for word in re.split(r"[^0-9A-Za-z]+", name) if word)
            base = base if base[:1].isalpha() else f"S{base}"
            candidate, counter = base, 2
            while candidate in self.idents.values():
                candidate, counter = f"{base}{counter}", counter + 1
            self.idents[name] = candidate
        return self.idents[name]

    def scope(self, machine: dict, depth: int) -> list[str]:
        """One (sub-)machine: its states, then its edges, from ``[*]`` at StartAt to ``[*]`` at the ends."""
        pad = "    " * depth
        states: dict = machine.get("States", {})
        lines = [f"{pad}[*] --> {self.ident(machine['StartAt'])}"]
        for name, state in states.items():
            lines += self.declare(name, state, depth)
        for name, state in states.items():
            lines += [f"{pad}{edge}" for edge in self.edges(name, state)]
        return lines

    def declare(self, name: str, state: dict, depth: int) -> list[str]:
        pad, ident, kind = "    " * depth, self.ident(name), state["Type"]
        if kind in ("Map", "Parallel"):
            # Mermaid gives a composite state a label only, no description lines.
            lines = [f'{pad}state "{_text(" · ".join([name, *_describe(state)]))}" as {ident}']
        else:
            lines = [f'{pad}state "{_text(name)}" as {ident}']
            lines += [f"{pad}{ident} : {_text(line)}" for line in _describe(state)]
        if kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            lines += [f"{pad}state {ident} {{", *self.scope(processor, depth + 1), f"{pad}}}"]
        elif kind == "Parallel":
            lines.append(f"{pad}state {ident} {{")
            for index, branch in enumerate(state.get("Branches", [])):
                if index:
                    lines.append(f"{pad}    --")
                lines += self.scope(branch, depth + 1)
            lines.append(f"{pad}}}")
        style = {"Choice": "choice", "Wait": "wait", "Succeed": "succeed", "Fail": "fail"}.get(kind)
        if style:
            self.styled.append((ident, style))
            self.classes.add(style)
        return lines

    def edges(self, name: str, state: dict) -> list[str]:
        source = self.ident(name)
        edges = []
        if state["Type"] == "Choice":
            for rule in state.get("Choices", []):
                edges.append(f"{source} --> {self.ident(rule['Next'])} : {_text(condition(rule))}")
            if "Default" in state:
                edges.append(f"{source} --> {self.ident(state['Default'])} : otherwise")
        elif "Next" in state:
            edges.append(f"{source} --> {self.ident(state['Next'])}")
        elif state.get("End") or state["Type"] in ("Succeed", "Fail"):
            edges.append(f"{source} --> [*]")
        for catcher in state.get("Catch", []):
            errors = ", ".join(catcher.get("ErrorEquals", []))
            edges.append(f"{source} --> {self.ident(catcher['Next'])} : catch {_text(errors)}")
        return edges


def _describe(state: dict) -> list[str]:
    """The lines inside a state's box: its type and what it does, in a few words."""
    kind = state["Type"]
    if kind == "Task":
        lines = [f"Task: {_resource(state)}"]
    elif kind == "Wait":
        lines = [_wait(state)]
    elif kind == "Map":
        lines = [_map(state)]
    elif kind == "Parallel":
        lines = [f"Parallel: {len(state.get('Branches', []))} branches"]
    elif kind == "Fail":
        error = state.get("Error") or state.get("ErrorPath") or "failed"
        lines = [f"Fail: {error}"]
    else:  # Pass, Choice, Succeed
        lines = [kind]
    retried = [_errors(retry.get("ErrorEquals", [])) for retry in state.get("Retry", [])]
    if retried:
        lines.append(f"retry on {'; '.join(retried)}")
    return lines


def _errors(names: list[str]) -> str:
    """A Retry's error list, shortened when long: ``4 Lambda.* errors``."""
    if len(names) <= 2:
        return ", ".join(names)
    prefixes = {name.split(".", 1)[0] for name in names}
    return f"{len(names)} {prefixes.pop()}.* errors" if len(prefixes) == 1 else f"{len(names)} error types"


def _resource(state: dict) -> str:
    resource = str(state.get("Resource", ""))
    parameters = state.get("Parameters") or state.get("Arguments") or {}
    service = resource.removeprefix("arn:aws:states:::")
    if service.startswith("lambda:invoke") or _placeholder(resource):
        function = _placeholder(str(parameters.get("FunctionName", ""))) or _placeholder(resource)
        target = f"Lambda {function}" if function else "Lambda"
        payload = parameters.get("Payload") if isinstance(parameters.get("Payload"), dict) else parameters
        for key in ("operation", "step", "action"):
            if isinstance(payload.get(key), str):
                return f"{target} ({payload[key]})"
        return target
    return service or resource


def _placeholder(text: str) -> str | None:
    """``${VacuumStepsFunctionArn}`` → ``VacuumSteps``: the deploy-time name, not a stage's ARN."""
    found = re.search(r"\$\{([A-Za-z0-9]+)\}", text)
    if not found:
        return None
    return re.sub(r"(FunctionArn|Arn)$", "", found.group(1)) or found.group(1)


def _wait(state: dict) -> str:
    if "Seconds" in state:
        return f"Wait {state['Seconds']} s"
    if "SecondsPath" in state:
        return f"Wait {state['SecondsPath']} seconds"
    if "Timestamp" in state:
        return f"Wait until {state['Timestamp']}"
    return f"Wait until {state.get('TimestampPath', '?')}"


def _map(state: dict) -> str:
    processor = state.get("ItemProcessor") or {}
    mode = "Distributed Map" if processor.get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED" else "Map"
    if "ItemReader" in state:
        reader = str(state["ItemReader"].get("Resource", "")).removeprefix("arn:aws:states:::")
        source = f"items read by {reader}"
    else:
        source = state.get("ItemsPath") or state.get("Items") or "$"
    text = f"{mode} over {source}"
    concurrency = state.get("MaxConcurrency") or state.get("MaxConcurrencyPath")
    return f"{text}, at most {concurrency} at a time" if concurrency else text


def condition(rule: dict) -> str:
    """A Choice rule in a few words: ``$.status == 'pending' and $.dryRun == false``."""
    if "And" in rule:
        return " and ".join(_group(condition(part)) for part in rule["And"])
    if "Or" in rule:
        return " or ".join(_group(condition(part)) for part in rule["Or"])
    if "Not" in rule:
        return f"not ({condition(rule['Not'])})"
    if "Condition" in rule:  # JSONata
        return str(rule["Condition"])
    variable = rule.get("Variable", "?")
    for key, value in rule.items():
        if key in ("Variable", "Next", "Comment", "Assign", "Output"):
            continue
        if key.startswith("Is"):  # IsPresent, IsNull, IsString, ...
            return f"{variable} is {'' if value else 'not '}{key[2:].lower()}"
        operator = key.removesuffix("Path")
        for prefix in _TYPES:
            if operator.startswith(prefix) and operator[len(prefix) :] in _OPERATORS:
                operand = value if key.endswith("Path") else json.dumps(value)
                return f"{variable} {_OPERATORS[operator[len(prefix) :]]} {operand}"
    return "?"


def _group(text: str) -> str:
    return f"({text})" if " and " in text or " or " in text else text


def _text(value: object) -> str:
    """One line without double quotes (they would end a Mermaid state label early)."""
    return " ".join(str(value).split()).replace('"', "'")


# -- the document -----------------------------------------------------------------------------------
def section(machine: Machine) -> str:
    return (
        f"{BEGIN.format(name=machine.name)}\n"
        f"<!-- Rendered from {machine.source} by `{COMMAND}`; edit the ASL, then re-run it. -->\n"
        "```mermaid\n"
        f"{render_mermaid(machine.definition)}"
        "```\n"
        f"{END.format(name=machine.name)}\n"
    )


def render_document(text: str | None, machines: list[Machine]) -> str:
    """``text`` with every generated section current; prose outside the markers is kept verbatim."""
    wanted = {machine.name: section(machine) for machine in machines}
    document = text if text is not None else "# Architecture\n"
    # Replace existing sections (and drop those whose ASL file is gone) in one pass.
    document = _SECTION.sub(lambda match: wanted.get(match.group("name"), ""), document)
    present = {match.group("name") for match in _SECTION.finditer(document)}
    for machine in machines:
        if machine.name not in present:
            heading = f"## State machine: {machine.name}"
            document = document.rstrip("\n") + f"\n\n{heading}\n\n{wanted[machine.name]}"
    return document.rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/architecture.md is stale")
    args = parser.parse_args(argv)
    current = DOCUMENT.read_text() if DOCUMENT.exists() else None
    rendered = render_document(current, load_machines())
    if args.check:
        if rendered != current:
            print(f"{DOCUMENT.relative_to(ROOT)} is stale: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    if rendered != current:
        DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
        DOCUMENT.write_text(rendered)
        print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
