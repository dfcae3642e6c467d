"""The operator documents (docs/*.md and README.md) match the code.

What counts as a reference, and what it must match:

1. Commands. Every ``g3n ops <command>`` (inside or outside code) names a command of the click tree
   (``g3n_ops_client.cli.g3n``; a group such as ``local`` takes its subcommand too). The
   invocation runs to the end of its inline code span, or else of its line (a fenced block's
   ``\\`` continuations joined), and stops at a shell separator (`` | ``, ``;``, ``&&``, `` #``) or at
   the next ``g3n ops``; ``$(…)`` inside it is ignored. Each ``--flag`` in it must be an option of
   that command (or ``--help``), and a literal value given to a choice option must be one of its
   choices. ``g3n ops …`` / ``g3n ops <command>`` are generic mentions; ``maintenance-*`` must
   match a command.
2. Error codes. A token is an error code where the docs say so: (a) ``error: <code>:`` and
   ``"code": "<code>"`` snippets anywhere; (b) the first cell of every row of a table whose first
   header cell is ``code``; (c) an inline code span that is one kebab-case word shaped like a code
   (starting ``invalid-`` or ``unknown-``, or ending in one of ``CODE_SUFFIXES``); (d) an inline
   code span within a typo of a real code (``difflib`` ratio >= ``NEAR_MISS``). Each must be a
   real code (``g3n_ops.contract.errors.ERROR_CODES | g3n_ops_client.errors.CLIENT_ERROR_CODES``). Likewise
   a CamelCase span ending like an error class (``CLASS_SUFFIXES``) or within a typo of one must
   be a real ``OpsError`` class. Conversely recap.md's code tables list every real code exactly
   once, each server code with its own class.
3. Payload fields. A table right after ``<!-- fields: <shape> -->`` documents one payload shape:
   column 1 the backticked field, column 3 ``always`` or the condition under which it appears.
   Real payloads from the embedded local stack must have every ``always`` field and no field the
   table lacks.
4. Links. A relative link to a Markdown file in the repository, with or without ``#anchor``,
   points at an existing file and heading.

Failures name the document and line.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
import shlex
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import click
import pytest

from g3n_ops.contract.errors import ALL_ERRORS, ERROR_CODES
from g3n_ops_client.cli import g3n
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import CLIENT_ERROR_CODES
from tests.support import SECRET

ROOT = Path(__file__).resolve().parents[2]
DOCS = (*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md")
RECAP = ROOT / "docs" / "recap.md"

REAL_CODES = ERROR_CODES | CLIENT_ERROR_CODES
CLASS_BY_CODE = {error.code: error.__name__ for error in ALL_ERRORS}
CLASSES = frozenset(CLASS_BY_CODE.values())
CODE_PREFIXES = ("invalid-", "unknown-", "aws-")
CODE_SUFFIXES = (
    "-mismatch",
    "-not-found",
    "-not-set",
    "-not-allowed",
    "-not-cancellable",
    "-not-admitted",
    "-not-deployed",
    "-already-active",
    "-already-set",
    "-locked",
    "-lost",
    "-violation",
    "-refused",
    "-stale",
    "-incomplete",
    "-failed",
    "-unreachable",
    "-required",
    "-error",
    "-transition",
    "-in-progress",
    "-declined",
    "-unavailable",
    "-not-resumable",
)
CLASS_SUFFIXES = (
    "Mismatch",
    "NotFound",
    "NotSet",
    "NotAllowed",
    "NotCancellable",
    "NotAdmitted",
    "CallerRefused",
    "Stale",
    "AlreadyActive",
    "AlreadySet",
    "Locked",
    "Lost",
    "Violation",
    "Incomplete",
    "Transition",
    "Orgcode",
    "Input",
    "Operation",
    "InProgress",
    "Throttled",
    "Denied",
    "Required",
    "NotResumable",
)

NEAR_MISS = 0.85
KEBAB = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")
CAMEL = re.compile(r"[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+")
SNIPPETS = (
    re.compile(r"error: ([A-Za-z][\w-]*):"),
    re.compile(r'"code": "([A-Za-z][\w-]*)"'),
)
INLINE_CODE = re.compile(r"`([^`\n]+)`")
COMMAND = re.compile(r"\bg3n ops\b")
SEPARATORS = re.compile(r" \| |;|&&| #")
SUBSTITUTION = re.compile(r"\$\([^)]*\)")
LINK = re.compile(r"\]\(([^)\s]+)\)")
FIELDS_MARKER = re.compile(r"<!-- fields: ([\w-]+) -->")


# -- reading the documents ------------------------------------------------------------------------
@dataclass(frozen=True)
class Line:
    path: Path
    number: int
    text: str
    in_code_block: bool

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.number}"


@cache
def lines_of(path: Path) -> tuple[Line, ...]:
    """The document's lines; in fenced blocks, ``\\``-continued lines are joined into the first."""
    result: list[Line] = []
    in_block = False
    pending: Line | None = None
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        if text.lstrip().startswith("```"):
            in_block = not in_block
            result.append(Line(path, number, text, False))
            continue
        if pending is not None:
            pending = Line(path, pending.number, pending.text[:-1] + " " + text.strip(), True)
        else:
            pending = Line(path, number, text, in_block)
        if in_block and pending.text.endswith("\\"):
            continue
        result.append(pending)
        pending = None
    return tuple(result)


def all_lines() -> list[Line]:
    return [line for path in DOCS for line in lines_of(path)]


def code_spans(line: Line) -> list[str]:
    return [] if line.in_code_block else INLINE_CODE.findall(line.text)


def table_rows(path: Path, start: int) -> list[tuple[Line, list[str]]]:
    """The rows (cells) of the Markdown table that starts at or after index ``start``."""
    lines = lines_of(path)
    index = start
    while index < len(lines) and not lines[index].text.lstrip().startswith("|"):
        index += 1
    rows = []
    while index < len(lines) and lines[index].text.lstrip().startswith("|"):
        cells = [cell.strip() for cell in lines[index].text.strip().strip("|").split("|")]
        rows.append((lines[index], cells))
        index += 1
    return rows


def body_rows(rows):
    """Skip the header and the ``| --- |`` separator."""
    return rows[2:]


def first_code(cell: str) -> str | None:
    match = INLINE_CODE.search(cell)
    return match.group(1) if match else None


# -- 1. commands and flags ------------------------------------------------------------------------
def ops_commands() -> dict[str, click.Command]:
    return g3n.commands["ops"].commands


def invocations(line: Line):
    """(text after ``g3n ops``) for each occurrence on the line, cut to its own invocation."""
    text = line.text
    for match in COMMAND.finditer(text):
        rest = text[match.end() :]
        if text[: match.start()].count("`") % 2 == 1:  # inside an inline code span
            rest = rest.split("`", 1)[0]
        rest = COMMAND.split(rest, 1)[0]
        rest = SUBSTITUTION.sub("VALUE", rest)
        yield SEPARATORS.split(rest, 1)[0]


def tokens_of(text: str) -> list[str]:
    try:
        tokens = shlex.split(text)
    except ValueError:  # an apostrophe in prose
        tokens = text.split()
    return [token.strip("[]`,.:") for token in tokens if token.strip("[]`,.:")]


def is_placeholder(token: str) -> bool:
    return token.startswith("<") or token in {"…", "...", "VALUE"} or "…" in token


def check_invocation(line: Line, invocation: str) -> list[str]:
    tokens = tokens_of(invocation)
    shown = f"`g3n ops {invocation.strip()}`"
    if not tokens or is_placeholder(tokens[0]):
        return []
    name, commands = tokens.pop(0), ops_commands()
    if "*" in name:
        if not fnmatch.filter(commands, name):
            return [f"{line.where}: {shown}: no command matches {name!r}"]
        return []
    command = commands.get(name)
    if command is None:
        return [f"{line.where}: {shown}: no command {name!r} (commands: {', '.join(sorted(commands))})"]
    while isinstance(command, click.Group):
        if not tokens or tokens[0] not in command.commands:
            return [
                f"{line.where}: {shown}: {name} needs a subcommand: {', '.join(sorted(command.commands))}"
            ]
        name = f"{name} {tokens[0]}"
        command = command.commands[tokens.pop(0)]
    options = {option: param for param in command.params for option in (*param.opts, *param.secondary_opts)}
    problems = []
    for index, token in enumerate(tokens):
        if not token.startswith("--") or token == "--":
            continue
        flag, _, inline_value = token.partition("=")
        if flag == "--help":
            continue
        param = options.get(flag)
        if param is None:
            known = ", ".join(sorted(options))
            problems.append(f"{line.where}: {shown}: `{name}` has no option {flag} (it has: {known})")
            continue
        value = inline_value or (tokens[index + 1] if index + 1 < len(tokens) else "")
        literal = value and not value.startswith("-") and not is_placeholder(value)
        if isinstance(param.type, click.Choice) and literal and value not in param.type.choices:
            choices = ", ".join(param.type.choices)
            problems.append(f"{line.where}: {shown}: {flag} {value!r} is not one of {choices}")
    return problems


def test_every_documented_command_and_flag_exists():
    problems, seen = [], 0
    for line in all_lines():
        for invocation in invocations(line):
            seen += 1
            problems += check_invocation(line, invocation)
    assert seen > 50, "expected the docs to show many g3n ops invocations"
    assert not problems, "docs name commands or flags the CLI does not have:\n" + "\n".join(problems)


def test_every_command_appears_in_the_playbooks_or_the_recap():
    shown = set()
    for path in (ROOT / "docs" / "playbooks.md", RECAP, ROOT / "docs" / "calls.md"):
        for line in lines_of(path):
            for invocation in invocations(line):
                tokens = tokens_of(invocation)
                if tokens:
                    shown.add(tokens[0])
    missing = sorted(set(ops_commands()) - shown)
    assert not missing, f"commands no operator document shows: {missing}"


# -- 2. error codes -------------------------------------------------------------------------------
def near_miss(token: str, names) -> bool:
    return bool(difflib.get_close_matches(token, names, n=1, cutoff=NEAR_MISS))


def code_shaped(token: str) -> bool:
    return bool(KEBAB.fullmatch(token)) and (token.startswith(CODE_PREFIXES) or token.endswith(CODE_SUFFIXES))


def class_shaped(token: str) -> bool:
    return bool(CAMEL.fullmatch(token)) and token.endswith(CLASS_SUFFIXES)


def looks_like_code(token: str) -> bool:
    return code_shaped(token) or (bool(KEBAB.fullmatch(token)) and near_miss(token, REAL_CODES))


def looks_like_error_class(token: str) -> bool:
    return class_shaped(token) or (bool(CAMEL.fullmatch(token)) and near_miss(token, CLASSES))


def code_tables(path: Path) -> list[list[tuple[Line, list[str]]]]:
    """Tables whose first header cell is ``code``."""
    tables = []
    for index, line in enumerate(lines_of(path)):
        if line.in_code_block or not line.text.lstrip().startswith("|"):
            continue
        previous = lines_of(path)[index - 1].text.lstrip() if index else ""
        if previous.startswith("|"):
            continue  # not the header row
        cells = [cell.strip() for cell in line.text.strip().strip("|").split("|")]
        if cells and cells[0] == "code":
            tables.append(table_rows(path, index))
    return tables


def referenced_codes() -> list[tuple[Line, str, str]]:
    """(line, token, rule) for every error-code reference in the docs."""
    found = []
    for line in all_lines():
        for pattern in SNIPPETS:
            for token in pattern.findall(line.text):
                found.append((line, token, "snippet"))
        for span in code_spans(line):
            if looks_like_code(span):
                found.append((line, span, "code-like span"))
            elif looks_like_error_class(span):
                found.append((line, span, "class-like span"))
    for path in DOCS:
        for table in code_tables(path):
            for line, cells in body_rows(table):
                token = first_code(cells[0])
                found.append((line, token or cells[0], "error table"))
    return found


def test_every_error_code_named_in_the_docs_is_real():
    problems = []
    for line, token, rule in referenced_codes():
        if CAMEL.fullmatch(token):
            if token not in CLASSES:
                problems.append(f"{line.where}: `{token}` ({rule}) is not an OpsError class")
        elif token not in REAL_CODES:
            problems.append(f"{line.where}: `{token}` ({rule}) is not an error code")
    assert not problems, "docs name error codes the code does not have:\n" + "\n".join(problems)


def test_the_recap_documents_every_code_once_with_its_class():
    tables = code_tables(RECAP)
    assert tables, "docs/recap.md has no table headed `code`"
    documented: dict[str, Line] = {}
    problems = []
    for table in tables:
        has_class_column = len(table[0][1]) > 1 and table[0][1][1] == "class"
        for line, cells in body_rows(table):
            code = first_code(cells[0])
            if code in documented:
                problems.append(f"{line.where}: `{code}` is documented twice (also {documented[code].where})")
            documented[code] = line
            if has_class_column and code in CLASS_BY_CODE and first_code(cells[1]) != CLASS_BY_CODE[code]:
                problems.append(
                    f"{line.where}: `{code}` is raised as `{CLASS_BY_CODE[code]}`, not {cells[1]}"
                )
    missing = sorted(REAL_CODES - documented.keys())
    if missing:
        problems.append(f"docs/recap.md: codes missing from its error tables: {missing}")
    assert not problems, "\n".join(problems)


def test_the_shape_rules_recognise_the_real_codes_and_classes():
    # Rule (c) is only useful if real codes look like codes; those that do not rely on rules (a),
    # (b) and (d). Keep these sets short when adding codes (extend the suffixes instead).
    assert {code for code in REAL_CODES if not code_shaped(code)} == {"no-credentials", "timeout"}
    # "Failed" is not a class suffix: metric names such as MaintenanceAuditWriteFailed end in it.
    assert {name for name in CLASSES if not class_shaped(name)} == {
        "OpsError",
        "AwsError",
        "AwsServerError",
        "VacuumStartFailed",
        "VacuumStepFailed",
        "MaintenanceStartFailed",
    }


# -- 4. links -------------------------------------------------------------------------------------
def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = heading.strip().lower().replace("`", "")
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in lines_of(path):
        match = re.match(r"#{1,6} (.+)", line.text)
        if line.in_code_block or not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def test_relative_links_point_at_existing_files_and_headings():
    problems = []
    for line in all_lines():
        if line.in_code_block:
            continue
        for target in LINK.findall(line.text):
            if "://" in target or target.startswith("mailto:"):
                continue
            file_part, _, anchor = target.partition("#")
            destination = (line.path.parent / file_part).resolve() if file_part else line.path
            if ROOT not in destination.parents and destination != ROOT:
                continue  # outside the repository: not this test's business
            if not destination.exists():
                problems.append(f"{line.where}: link to missing {target}")
            elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
                problems.append(f"{line.where}: no heading #{anchor} in {destination.relative_to(ROOT)}")
    assert not problems, "\n".join(problems)


# -- 3. payload fields against real payloads -------------------------------------------------------
def documented_fields() -> dict[str, tuple[Line, dict[str, str]]]:
    """shape → (marker line, {field: presence}) from every ``<!-- fields: <shape> -->`` table."""
    shapes = {}
    for path in DOCS:
        for index, line in enumerate(lines_of(path)):
            match = FIELDS_MARKER.search(line.text)
            if not match:
                continue
            rows = body_rows(table_rows(path, index + 1))
            assert rows, f"{line.where}: <!-- fields: {match.group(1)} --> is not followed by a table"
            fields = {}
            for row_line, cells in rows:
                name = first_code(cells[0])
                assert name and len(cells) >= 3, (
                    f"{row_line.where}: a field row is | `name` | type | present | …"
                )
                fields[name] = cells[2]
            assert match.group(1) not in shapes, f"{line.where}: shape {match.group(1)} documented twice"
            shapes[match.group(1)] = (line, fields)
    return shapes


@pytest.fixture(scope="module")
def real_payloads(local_stack) -> dict[str, list[dict]]:
    """Real documents from the local stack: a window started, updated and ended; vacuum runs
    completed (dry-run) and cancelled; ping and stat before and during the window."""
    import boto3

    local_stack.reset(seed=False)
    client = OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url))
    maintenance, vacuum = client.maintenance, client.vacuum
    idle_ping = client.ping()
    start = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")
    window = maintenance.schedule(SECRET, "docs check", 60, start)
    maintenance_id = window["maintenanceId"]
    maintenance.start(SECRET, maintenance_id)
    maintenance.update(SECRET, "half way")
    active_ping = client.ping()
    status_request = urllib.request.Request(
        local_stack.info.api_url + "/status", headers={"Accept": "application/json"}
    )
    with urllib.request.urlopen(status_request, timeout=30) as response:  # public: no signature
        status_page = json.loads(response.read())
    maintenance.end(SECRET, "done")
    record = maintenance.get(maintenance_id)
    boto3.client("stepfunctions").stop_execution(executionArn=record["executionArn"])  # the end timer
    dry = vacuum.org(SECRET, "TESTORG", "docs check", dry_run=True)
    dry = vacuum.wait(dry["vacuumId"], timeout=60, poll=0.2)
    cancelled = vacuum.cancel(SECRET, vacuum.org(SECRET, "TESTORG", "docs check")["vacuumId"])
    stat = client.stat()
    vacuums = [dry, cancelled]
    return {
        "ping": [idle_ping, active_ping],
        "maintenance-state": [idle_ping["maintenance"], active_ping["maintenance"]],
        "stat": [stat],
        "stat-last-vacuum": [stat["vacuum"]["last"]],
        "maintenance-page": [maintenance.list()],
        "maintenance-record": [record],
        "update-entry": record["updates"],
        "history-entry": record["history"],
        "vacuum-record": vacuums,
        "status-page": [status_page],
        "status-active-window": [status_page["active"]],
        # Per-service entries and totals exist once a run starts (a cancelled run has none).
        "vacuum-stats": [
            entry
            for run in vacuums
            for entry in (*run["stats"]["services"].values(), run["stats"]["totals"])
            if entry
        ],
    }


@pytest.mark.slow
def test_documented_payload_fields_match_real_payloads(real_payloads):
    shapes = documented_fields()
    problems = []
    unknown = sorted(shapes.keys() - real_payloads.keys())
    if unknown:
        problems += [f"{shapes[name][0].where}: no real payload known for shape {name!r}" for name in unknown]
    for name, (line, fields) in sorted(shapes.items()):
        samples = real_payloads.get(name, [])
        assert samples or name in unknown, f"the local stack produced no {name} payload"
        for sample in samples:
            for key in sorted(sample.keys() - fields.keys()):
                problems.append(f"{line.where}: the {name} table lacks `{key}` (a real payload has it)")
            for key, presence in fields.items():
                if presence == "always" and key not in sample:
                    problems.append(
                        f"{line.where}: {name} `{key}` is documented as always present; it is not"
                    )
    assert not problems, "docs and real payloads disagree:\n" + "\n".join(sorted(set(problems)))
    assert {"maintenance-record", "vacuum-record", "ping", "stat"} <= shapes.keys()


# Spelled in two parts so this file does not match itself.
OUTSIDE_DESIGN_FOLDER = "../" + "shared"


def test_the_repository_stands_alone_without_the_design_folder():
    root = Path(__file__).resolve().parents[2]
    pointing = []
    for path in root.rglob("*"):
        if any(part in {".git", ".venv", "cdk.out", "node_modules", "__pycache__"} for part in path.parts):
            continue
        readable = path.is_file() and path.suffix in {".md", ".py", ".json", ".toml", ".txt", ".yml", ""}
        if readable and OUTSIDE_DESIGN_FOLDER in path.read_text(errors="ignore"):
            pointing.append(str(path.relative_to(root)))
    assert not pointing, f"these files point outside the repository ({OUTSIDE_DESIGN_FOLDER}): {pointing}"
