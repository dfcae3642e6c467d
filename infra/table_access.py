"""Which OPS-table items each function may reach, as data: the one list to edit when a function
starts using a new kind of item (``infra/constructs/access.py`` turns it into IAM conditions on
``dynamodb:LeadingKeys``; ``tests/infra`` proves the template matches it, and
``tests/unit/test_iam_enforcement.py`` that the functions stay inside it on the local stack,
where the synthesised conditions are enforced).

A pattern is an exact ``pk`` (``secret``) or a prefix ending in ``*`` (``maintenance#*``): IAM's
``StringLike``. For a Query on the ``kind-index`` GSI, LeadingKeys is the GSI's partition key,
so ``kinds`` lists the ``kind`` values a function may list.

The secret item is in ``SECRET_CHECK`` only, which only the functions that verify the code get.
"""

from __future__ import annotations

from dataclasses import dataclass

from g3n_ops.contract.keys import (
    MAINTENANCE_PREFIX,
    MAINTENANCE_SCHEDULE_PREFIX,
    SECRET_LOCKOUT_PK,
    SECRET_PK,
    VACUUM_PREFIX,
    Kind,
    below,
)

VACUUMS = below(VACUUM_PREFIX)  # records, the mutex, progress items
VACUUM_AUDIT = below(Kind.VACUUM_AUDIT)  # each run's trail
MAINTENANCE = below(MAINTENANCE_PREFIX)  # records and the guard's state
MAINTENANCE_SCHEDULES = below(MAINTENANCE_SCHEDULE_PREFIX)
SECRET_AUDIT = below(Kind.SECRET_AUDIT)
VACUUM_KINDS = (Kind.VACUUM, Kind.VACUUM_AUDIT, below(Kind.VACUUM_AUDIT))


@dataclass(frozen=True)
class TableAccess:
    read: tuple[str, ...] = ()  # GetItem
    write: tuple[str, ...] = ()  # PutItem, UpdateItem (in a transaction too)
    delete: tuple[str, ...] = ()  # DeleteItem
    kinds: tuple[str, ...] = ()  # Query on kind-index

    def __or__(self, other: TableAccess) -> TableAccess:
        def merged(mine: tuple[str, ...], theirs: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys((*mine, *theirs)))

        return TableAccess(
            read=merged(self.read, other.read),
            write=merged(self.write, other.write),
            delete=merged(self.delete, other.delete),
            kinds=merged(self.kinds, other.kinds),
        )


def read_write(*patterns: str, kinds: tuple[str, ...] = (), delete: tuple[str, ...] = ()) -> TableAccess:
    return TableAccess(read=patterns, write=patterns, delete=delete, kinds=kinds)


# Verify the secret code: read the hash and the lockout counter, count failures, upgrade a weak
# hash, write the security audit.
SECRET_CHECK = TableAccess(
    read=(SECRET_PK, SECRET_LOCKOUT_PK),
    write=(SECRET_PK, SECRET_LOCKOUT_PK, SECRET_AUDIT),
)

# vacuum-all --with-maintenance: the run opens a maintenance window (the request function) and
# closes it when it ends (the steps' finalise, the request function's cancel): the window's record
# and the guard's state. Granted in statements of their own (``MaintenanceBracket`` Sids,
# ``infra/constructs/access.py``); ``FUNCTION_TABLE_ACCESS`` lists the union.
MAINTENANCE_BRACKET_ACCESS = read_write(MAINTENANCE)
MAINTENANCE_BRACKET_TABLE_FUNCTIONS = ("vacuum", "vacuum-steps")

FUNCTION_TABLE_ACCESS: dict[str, TableAccess] = {
    # The public HTTP API: the guard's state, maintenance records, the newest vacuum for /stat.
    "api": TableAccess(read=(MAINTENANCE,), kinds=(Kind.MAINTENANCE, Kind.VACUUM)),
    # init-secret / rotate-secret.
    "admin": SECRET_CHECK,
    # Records and the guard's state; Powertools idempotency items of maintenance-schedule (deleted
    # when the call fails, so a retry runs again).
    "maintenance": read_write(MAINTENANCE, MAINTENANCE_SCHEDULES, delete=(MAINTENANCE_SCHEDULES,))
    | SECRET_CHECK,
    "maintenance-steps": read_write(MAINTENANCE),
    # Records, the mutex and progress items (vacuum#…; the mutex is deleted to release it), the
    # vacuum audit. (Each run's audit trail is its own kind-index partition, audit#vacuum#<id>.)
    "vacuum": read_write(VACUUMS, VACUUM_AUDIT, delete=(VACUUMS,), kinds=VACUUM_KINDS) | SECRET_CHECK,
    "vacuum-steps": read_write(VACUUMS, VACUUM_AUDIT, delete=(VACUUMS,), kinds=VACUUM_KINDS),
    # Closes records whose execution ended outside OPS: vacuum records, the mutex and their audit;
    # maintenance records and the guard's state.
    "execution-status": read_write(
        VACUUMS, VACUUM_AUDIT, MAINTENANCE, delete=(VACUUMS,), kinds=(Kind.VACUUM, Kind.MAINTENANCE)
    ),
}

# What each function has without the maintenance bracket's statements.
OWN_TABLE_ACCESS = dict(FUNCTION_TABLE_ACCESS)
for _key in MAINTENANCE_BRACKET_TABLE_FUNCTIONS:
    FUNCTION_TABLE_ACCESS[_key] = FUNCTION_TABLE_ACCESS[_key] | MAINTENANCE_BRACKET_ACCESS
