"""The local stack's IAM evaluator keeps AWS's rules (``g3n_ops_client/local/iam/policy.py``)."""

from __future__ import annotations

import pytest

from g3n_ops_client.local.iam.policy import (
    ALLOW,
    EXPLICIT_DENY,
    IMPLICIT_DENY,
    evaluate,
    statements_of,
    wildcard_match,
)

TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/g3n-local-ops"


def decide(statements: list[dict], action: str, resource: str = TABLE, context: dict | None = None) -> str:
    return evaluate(statements_of({"Statement": statements}), action, resource, context).effect


def allow(**fields) -> dict:
    return {"Effect": "Allow", **fields}


def test_nothing_granted_is_an_implicit_deny():
    assert decide([], "dynamodb:GetItem") == IMPLICIT_DENY
    assert decide([allow(Action="dynamodb:PutItem", Resource=TABLE)], "dynamodb:GetItem") == IMPLICIT_DENY


def test_an_explicit_deny_wins_over_any_allow_in_any_order():
    grant = allow(Action="dynamodb:*", Resource="*")
    deny = {"Effect": "Deny", "Action": "dynamodb:DeleteItem", "Resource": TABLE}
    assert decide([grant, deny], "dynamodb:DeleteItem") == EXPLICIT_DENY
    assert decide([deny, grant], "dynamodb:DeleteItem") == EXPLICIT_DENY
    assert decide([grant, deny], "dynamodb:GetItem") == ALLOW


def test_not_action_grants_everything_but_what_it_lists():
    statement = allow(NotAction=["dynamodb:DeleteItem", "s3:*"], Resource="*")
    assert decide([statement], "dynamodb:GetItem") == ALLOW
    assert decide([statement], "dynamodb:DeleteItem") == IMPLICIT_DENY
    assert decide([statement], "s3:DeleteObject", "arn:aws:s3:::b/k") == IMPLICIT_DENY
    # A Deny with NotAction denies everything else.
    fence = {"Effect": "Deny", "NotAction": "dynamodb:GetItem", "Resource": "*"}
    assert decide([allow(Action="*", Resource="*"), fence], "dynamodb:PutItem") == EXPLICIT_DENY
    assert decide([allow(Action="*", Resource="*"), fence], "dynamodb:GetItem") == ALLOW


def test_not_resource_matches_every_other_resource():
    statement = allow(Action="s3:DeleteObject", NotResource="arn:aws:s3:::keep/*")
    assert decide([statement], "s3:DeleteObject", "arn:aws:s3:::other/k") == ALLOW
    assert decide([statement], "s3:DeleteObject", "arn:aws:s3:::keep/k") == IMPLICIT_DENY


def test_wildcards_actions_ignore_case_resources_do_not():
    assert decide([allow(Action="DynamoDB:get*", Resource=TABLE)], "dynamodb:GetItem") == ALLOW
    assert decide([allow(Action="dynamodb:Get?tem", Resource=TABLE)], "dynamodb:GetItem") == ALLOW
    assert decide([allow(Action="dynamodb:Get?", Resource=TABLE)], "dynamodb:GetItem") == IMPLICIT_DENY
    upper = TABLE.replace("g3n-local-ops", "G3N-LOCAL-OPS")
    assert decide([allow(Action="dynamodb:GetItem", Resource=upper)], "dynamodb:GetItem") == IMPLICIT_DENY
    # ``*`` runs across ``/`` and ``:``; the pattern must match the whole ARN.
    assert wildcard_match(
        "arn:aws:logs:*:*:log-group:/g3n/*", "arn:aws:logs:r:1:log-group:/g3n/a:log-stream:x"
    )
    assert not wildcard_match("arn:aws:s3:::bucket", "arn:aws:s3:::bucket/key")
    assert wildcard_match("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b")
    assert not wildcard_match("arn:aws:s3:::b[1]", "arn:aws:s3:::b1")  # brackets are literal in IAM


LEADING = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["vacuum#*", "secret"]}}


def test_for_all_values_needs_every_value_to_match():
    statement = allow(Action="dynamodb:GetItem", Resource=TABLE, Condition=LEADING)
    assert decide([statement], "dynamodb:GetItem", context={"dynamodb:LeadingKeys": ["vacuum#1"]}) == ALLOW
    assert decide([statement], "dynamodb:GetItem", context={"dynamodb:LeadingKeys": ["secret"]}) == ALLOW
    mixed = {"dynamodb:LeadingKeys": ["vacuum#1", "maintenance#state"]}
    assert decide([statement], "dynamodb:GetItem", context=mixed) == IMPLICIT_DENY
    assert (
        decide([statement], "dynamodb:GetItem", context={"dynamodb:LeadingKeys": ["secrets"]})
        == IMPLICIT_DENY
    )


def test_for_all_values_holds_on_an_empty_or_missing_key():
    """Why a LeadingKeys grant must never name Scan: a Scan has no leading key, so the condition
    holds vacuously."""
    statement = allow(Action=["dynamodb:Scan", "dynamodb:GetItem"], Resource=TABLE, Condition=LEADING)
    assert decide([statement], "dynamodb:Scan") == ALLOW
    assert decide([statement], "dynamodb:Scan", context={"dynamodb:LeadingKeys": []}) == ALLOW


def test_for_any_value_needs_a_value_and_plain_operators_fail_on_a_missing_key():
    any_value = allow(
        Action="dynamodb:Query", Resource=TABLE,
        Condition={"ForAnyValue:StringEquals": {"dynamodb:LeadingKeys": ["vacuum"]}},
    )  # fmt: skip
    assert decide([any_value], "dynamodb:Query") == IMPLICIT_DENY
    assert decide([any_value], "dynamodb:Query", context={"dynamodb:LeadingKeys": ["x", "vacuum"]}) == ALLOW
    plain = allow(
        Action="dynamodb:Query", Resource=TABLE, Condition={"StringEquals": {"aws:PrincipalTag/team": "ops"}}
    )
    assert decide([plain], "dynamodb:Query") == IMPLICIT_DENY
    assert (
        decide([plain], "dynamodb:Query", context={"aws:principaltag/TEAM": "ops"}) == ALLOW
    )  # keys: any case
    if_exists = allow(
        Action="dynamodb:Query",
        Resource=TABLE,
        Condition={"StringEqualsIfExists": {"aws:PrincipalTag/team": "ops"}},
    )
    assert decide([if_exists], "dynamodb:Query") == ALLOW
    assert decide([if_exists], "dynamodb:Query", context={"aws:PrincipalTag/team": "web"}) == IMPLICIT_DENY
    negated = allow(
        Action="dynamodb:Query",
        Resource=TABLE,
        Condition={"StringNotEquals": {"aws:PrincipalTag/team": "web"}},
    )
    assert decide([negated], "dynamodb:Query") == ALLOW  # a negated operator holds on a missing key


def test_every_condition_must_hold_and_any_listed_value_may():
    statement = allow(
        Action="dynamodb:GetItem",
        Resource=TABLE,
        Condition={
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["a#*", "b#*"]},
            "Bool": {"aws:SecureTransport": "true"},
        },
    )
    keys = {"dynamodb:LeadingKeys": ["b#1"]}
    assert decide([statement], "dynamodb:GetItem", context={**keys, "aws:SecureTransport": "true"}) == ALLOW
    assert (
        decide([statement], "dynamodb:GetItem", context={**keys, "aws:SecureTransport": "false"})
        == IMPLICIT_DENY
    )


def test_a_deny_whose_condition_does_not_hold_does_not_deny():
    deny = {
        "Effect": "Deny",
        "Action": "*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    grant = allow(Action="dynamodb:GetItem", Resource=TABLE)
    assert decide([grant, deny], "dynamodb:GetItem", context={"aws:SecureTransport": "true"}) == ALLOW
    assert (
        decide([grant, deny], "dynamodb:GetItem", context={"aws:SecureTransport": "false"}) == EXPLICIT_DENY
    )


def test_what_the_evaluator_does_not_know_is_refused_loudly():
    with pytest.raises(ValueError, match="Principal"):
        statements_of({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})
    unknown = allow(
        Action="*", Resource="*", Condition={"NumericLessThan": {"aws:MultiFactorAuthAge": "3600"}}
    )
    with pytest.raises(ValueError, match="NumericLessThan"):
        decide([unknown], "dynamodb:GetItem", context={"aws:MultiFactorAuthAge": "1"})
