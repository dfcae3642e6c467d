"""An IAM policy evaluator for identity-based policies, kept to what OPS's templates and documented
identities use: Allow/Deny, Action/NotAction, Resource/NotResource with ``*``/``?`` wildcards,
and the condition operators ``String{Equals,NotEquals,Like,NotLike}``, ``Arn{Equals,Like,NotLike}``,
``Bool`` and ``Null``, each optionally ``…IfExists`` and qualified ``ForAllValues:`` /
``ForAnyValue:``.

Why not an existing evaluator:
- moto's (``moto/iam/access_control.py``) matches actions against resource ``*`` only and ignores
  conditions outside trust policies, so it cannot see a LeadingKeys grant or a wrong ARN.
- principalmapper has a condition-aware simulator but is unmaintained since 2022 and pulls in its
  own graph tooling; iam-ape computes effective permission sets, not one request's decision;
  @cloud-copilot/iam-simulate is maintained and complete, but it is JavaScript: a Node process on
  the path of every AWS call the local stack serves.

AWS's rules kept here (``tests/unit/test_iam_policy.py`` checks each):
- an explicit Deny in any statement wins over any Allow; no matching statement is an implicit deny;
- ``NotAction``/``NotResource`` match everything except what they list;
- action names match case-insensitively, resources case-sensitively, ``*`` any run and ``?`` one
  character (``Like`` operators the same), ``Equals`` operators literally;
- all condition operators of a statement must hold (AND), any value of one operator may (OR);
- ``ForAllValues:`` holds when every request value matches, so it holds on an empty or missing key
  (the reason a Scan, which has no ``dynamodb:LeadingKeys``, passes a LeadingKeys condition: it
  must not be granted at all); ``ForAnyValue:`` needs at least one value to match;
- a plain operator on a missing key fails (negated ones hold); ``…IfExists`` holds when missing.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

ALLOW, EXPLICIT_DENY, IMPLICIT_DENY = "allow", "explicit-deny", "implicit-deny"
Context = Mapping[str, str | list[str] | None]


@lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern:
    # fnmatch's translate also treats [...] as a class; IAM has none, so escape brackets first.
    text = pattern.replace("[", "\0").replace("]", "\1")
    regex = fnmatch.translate(text).replace("\0", r"\[").replace("\1", r"\]")
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's ``*`` (any run, ``/`` and ``:`` included) and ``?`` (one character)."""
    return _pattern(pattern, ignore_case).match(value) is not None


def _listed(value) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _operator_holds(operator: str, expected: list[str], actual: str) -> bool:
    if operator in ("StringEquals", "ArnEquals"):
        return actual in expected
    if operator == "StringEqualsIgnoreCase":
        return actual.lower() in (value.lower() for value in expected)
    if operator in ("StringLike", "ArnLike"):
        return any(wildcard_match(value, actual) for value in expected)
    if operator == "Bool":
        return actual.lower() in (str(value).lower() for value in expected)
    raise ValueError(f"condition operator {operator!r} is not supported by the local IAM evaluator")


NEGATED = {"StringNotEquals": "StringEquals", "StringNotLike": "StringLike", "ArnNotLike": "ArnLike",
           "ArnNotEquals": "ArnEquals", "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase"}  # fmt: skip


def _condition_holds(qualified_operator: str, key: str, expected, context: Context) -> bool:
    qualifier, _, operator = qualified_operator.rpartition(":")
    values = [str(value) for value in _listed(_lookup(context, key))]
    expected = [str(value) for value in _listed(expected)]
    if operator == "Null":  # "true": the key must be absent
        return (not values) == (expected[0].lower() == "true")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    negated = operator in NEGATED
    positive = NEGATED.get(operator, operator)

    def matches(value: str) -> bool:
        held = _operator_holds(positive, expected, value)
        return not held if negated else held

    if qualifier == "ForAllValues":
        return all(matches(value) for value in values)
    if qualifier == "ForAnyValue":
        return any(matches(value) for value in values)
    if qualifier:
        raise ValueError(f"condition qualifier {qualifier!r} is not supported")
    if not values:
        return if_exists or negated
    # A single-valued operator on a multivalued key: AWS matches any value (and, negated, none).
    return all(matches(value) for value in values) if negated else any(matches(value) for value in values)


def _lookup(context: Context, key: str):
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    return None


@dataclass(frozen=True)
class Statement:
    """One statement, normalised (lists everywhere)."""

    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    condition: tuple[tuple[str, str, tuple[str, ...]], ...] = ()
    sid: str = ""
    source: str = ""  # where it came from (a template policy's logical id, a document's path)

    @classmethod
    def from_document(cls, statement: Mapping, *, source: str = "") -> Statement:
        unknown = set(statement) - {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                                    "Condition"}  # fmt: skip
        if unknown:
            raise ValueError(f"statement elements {sorted(unknown)} are not supported ({source})")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise ValueError(f"Effect must be Allow or Deny, got {statement.get('Effect')!r} ({source})")
        condition = tuple(
            (operator, key, tuple(str(value) for value in _listed(expected)))
            for operator, keys in (statement.get("Condition") or {}).items()
            for key, expected in keys.items()
        )
        return cls(
            effect=statement["Effect"],
            actions=tuple(_listed(statement.get("Action"))),
            not_actions=tuple(_listed(statement.get("NotAction"))),
            resources=tuple(_listed(statement.get("Resource"))),
            not_resources=tuple(_listed(statement.get("NotResource"))),
            condition=condition,
            sid=str(statement.get("Sid", "")),
            source=source,
        )

    def matched_action(self, action: str) -> str | None:
        """The Action pattern that covers ``action`` (for NotAction: ``NotAction``), or None."""
        if self.not_actions:
            covered = any(wildcard_match(p, action, ignore_case=True) for p in self.not_actions)
            return None if covered else "NotAction"
        return next((p for p in self.actions if wildcard_match(p, action, ignore_case=True)), None)

    def matched_resource(self, resource: str) -> str | None:
        if self.not_resources:
            return None if any(wildcard_match(p, resource) for p in self.not_resources) else "NotResource"
        return next((p for p in self.resources if wildcard_match(p, resource)), None)

    def conditions_hold(self, context: Context) -> bool:
        return all(
            _condition_holds(operator, key, expected, context) for operator, key, expected in self.condition
        )


@dataclass(frozen=True)
class Decision:
    effect: str  # ALLOW, EXPLICIT_DENY or IMPLICIT_DENY
    statement: Statement | None = None
    action_pattern: str | None = None  # which of the statement's patterns matched (usage reports)
    resource_pattern: str | None = None

    @property
    def allowed(self) -> bool:
        return self.effect == ALLOW


def evaluate(
    statements: Iterable[Statement], action: str, resource: str, context: Context | None = None
) -> Decision:
    """AWS's order for one principal's identity policies: any matching Deny → explicit deny;
    else any matching Allow → allow; else implicit deny."""
    context = context or {}
    allowed: Decision | None = None
    for statement in statements:
        action_pattern = statement.matched_action(action)
        if action_pattern is None:
            continue
        resource_pattern = statement.matched_resource(resource)
        if resource_pattern is None or not statement.conditions_hold(context):
            continue
        if statement.effect == "Deny":
            return Decision(EXPLICIT_DENY, statement, action_pattern, resource_pattern)
        if allowed is None:
            allowed = Decision(ALLOW, statement, action_pattern, resource_pattern)
    return allowed or Decision(IMPLICIT_DENY)


def statements_of(document: Mapping | list, *, source: str = "") -> list[Statement]:
    """The statements of a policy document (or a bare list of statements)."""
    found = document.get("Statement", []) if isinstance(document, Mapping) else document
    return [Statement.from_document(statement, source=source) for statement in _listed(found)]
