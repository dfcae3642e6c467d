"""What a vacuum request must satisfy before anything is written."""

from __future__ import annotations

import re

from g3n_ops.contract.errors import ConfirmationPhraseMismatch, InvalidOrgcode, VacuumNotAllowed
from g3n_ops.contract.registry import DEFAULT_ORGCODE_PATTERN
from g3n_ops.contract.vacuum import CONFIRMATION_PHRASE
from g3n_ops.domain.vacuum.records import Scope
from g3n_ops.registry import load_registry
from g3n_ops.settings import settings


def check_allowed() -> None:
    if not settings().vacuum_allowed:
        raise VacuumNotAllowed(f"vacuum is disabled on stage '{settings().stage}' (VACUUM_ALLOWED=false)")


def check_confirmation(phrase: str | None) -> None:
    if phrase != CONFIRMATION_PHRASE:
        raise ConfirmationPhraseMismatch(
            f"vacuum-all needs the confirmation phrase exactly: {CONFIRMATION_PHRASE}"
        )


def check_orgcode(orgcode: str | None, pattern: str = DEFAULT_ORGCODE_PATTERN) -> str:
    """Exactly as the platform writes it (case-sensitive); ``fullmatch`` so no trailing newline
    slips through a ``$``."""
    if not isinstance(orgcode, str) or not re.fullmatch(pattern, orgcode):
        raise InvalidOrgcode(
            f"invalid orgcode {orgcode!r:.80}: it must match {pattern} (case-sensitive, as the platform "
            "writes it, e.g. TESTORG)"
        )
    return orgcode


def check_request(scope: Scope, orgcode: str | None, confirmation_phrase: str | None) -> str | None:
    """Allowed on this stage, phrase for vacuum-all, a valid orgcode for vacuum-org (in that order)."""
    check_allowed()
    if scope == "all":
        check_confirmation(confirmation_phrase)
        return None
    return check_orgcode(orgcode, load_registry().orgcode_pattern)
