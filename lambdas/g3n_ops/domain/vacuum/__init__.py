"""Vacuum runs, one concern per module.

- ``records``: the record (ids, times, the public document), ``checks``: what a request must
  satisfy, ``mutex``: one run at a time, ``audit``: the trail;
- ``requests``: the direct operations (request, status, cancel, resume);
- ``plan``: what a run may touch, bound to the record; ``rounds``: the history budget;
- the state machine's tasks: ``admission`` (admit, start), ``continuation`` (the next round, or
  continue-as-new), ``chunks`` (purge one chunk of a unit), ``finalise`` (verify, finalise),
  ``failure`` (the Catch's step), ``settle`` (a stopped run's final status). Every step derives
  what it may touch from the record: the plan bound to it when the run started, the dry-run flag,
  the execution the run belongs to; a step event names a unit by id.

Lifecycle of a record (``status``): pending → running → completed, or running → cancelling →
cancelled, running → failing → failed (``settle``: final once no chunk is in flight), or
pending → cancelled | failed; failed → running again by ``resume``.
"""

from g3n_ops.domain.vacuum.checks import (
    CONFIRMATION_PHRASE,
    check_allowed,
    check_confirmation,
    check_orgcode,
    check_request,
)
from g3n_ops.domain.vacuum.maintenance_bracket import close_window
from g3n_ops.domain.vacuum.plan import build_plan, totals, zero_stats
from g3n_ops.domain.vacuum.records import get, public
from g3n_ops.domain.vacuum.requests import cancel, mark_failed, request, resume, status
from g3n_ops.domain.vacuum.settle import FINAL_OF, drain_and_settle, settle

__all__ = [
    "CONFIRMATION_PHRASE",
    "FINAL_OF",
    "build_plan",
    "cancel",
    "check_allowed",
    "check_confirmation",
    "check_orgcode",
    "check_request",
    "close_window",
    "drain_and_settle",
    "get",
    "mark_failed",
    "public",
    "request",
    "resume",
    "settle",
    "status",
    "totals",
    "zero_stats",
]
