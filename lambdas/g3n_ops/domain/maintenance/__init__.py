"""The maintenance window lifecycle.

    scheduled ──start──▶ active ──end / auto-end──▶ ended
        │                  └──overrun (past its expected end, no auto-end; stays active)
        └──cancel──▶ cancelled

Every change is a conditional write on the record (status and version as read), appended to
its ``history`` and written as one audit line. Starting, updating and ending also write the
state item the guard reads, in the same transaction, so at most one window is ever active.

The lifecycle state machine times a window (wait for the start → start → wait for the expected
end → auto-end or flag the overrun). Operators may act at any point; each step looks at the
record first and only does what is still due, so the execution and the record stay consistent
whatever happened by hand in between.

A window may be narrower than "every API service answers 503" (all of it is on the state item the
guard already reads, so none of it costs a read):

- ``services``: the registry codes it applies to (None: every API service);
- ``allowMethods``: HTTP methods that still pass (e.g. GET, HEAD: read-only maintenance);
- an operator bypass: a random token, returned once by the call that issued it, whose SHA-256
  alone is kept (``bypassSha256``, on the record and the state item; never shown by any read).
  It ends with the window (the state goes inactive and the record forgets the digest); rotating
  issues a new one and voids the old.

Modules: ``rules`` (limits, validation, the bypass token), ``records`` (history, state, audit,
conditional writes), ``lifecycle`` (the transitions), ``timers`` (the executions that time a window).
The record itself (``MaintenanceRecord``, attributes not string keys) and what each write on it is
conditional on (``WRITTEN_UNDER``) are ``g3n_ops.records.maintenance``.
"""

from g3n_ops.domain.maintenance.lifecycle import (
    admit,
    cancel,
    end,
    end_window,
    expire,
    schedule,
    schedule_from_execution,
    start,
    start_when_due,
    timing,
    update,
)
from g3n_ops.domain.maintenance.records import (
    active_window_id,
    audit_action,
    get,
    history_entry,
    list_windows,
    new_record,
)
from g3n_ops.domain.maintenance.rules import (
    STATE_MACHINE_SOURCE,
    Actor,
    bypass_sha256,
    check_description,
    check_duration,
    check_id,
    check_methods,
    check_text,
    end_timer,
    mode,
    new_bypass_token,
    parse_start,
    shown,
)

__all__ = [
    "STATE_MACHINE_SOURCE",
    "Actor",
    "active_window_id",
    "admit",
    "audit_action",
    "bypass_sha256",
    "cancel",
    "check_description",
    "check_duration",
    "check_id",
    "check_methods",
    "check_text",
    "end",
    "end_timer",
    "end_window",
    "expire",
    "get",
    "history_entry",
    "list_windows",
    "mode",
    "new_bypass_token",
    "new_record",
    "parse_start",
    "schedule",
    "schedule_from_execution",
    "shown",
    "start",
    "start_when_due",
    "timing",
    "update",
]
