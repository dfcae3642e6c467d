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

SECRET_KEY = "secret"
LOCKOUT_KEY = "lockout#secret"
SECRET_AUDIT_KEYS = "audit#secret#*"
SECRET_AUDIT_KIND = "audit#secret"


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
    read=(SECRET_KEY, LOCKOUT_KEY),
    write=(SECRET_KEY, LOCKOUT_KEY, SECRET_AUDIT_KEYS),
)

# vacuum-all --with-maintenance: the run opens a maintenance window (the request function) and
# closes it when it ends (the steps' finalise, the request function's cancel): the window's record
# and the guard's state. Granted in statements of their own (``MaintenanceBracket`` Sids,
# ``infra/constructs/access.py``); ``FUNCTION_TABLE_ACCESS`` lists the union.
MAINTENANCE_BRACKET_ACCESS = read_write("maintenance#*")
MAINTENANCE_BRACKET_TABLE_FUNCTIONS = ("vacuum", "vacuum-steps")

FUNCTION_TABLE_ACCESS: dict[str, TableAccess] = {
    # The public HTTP API: the guard's state, maintenance records, the newest vacuum for /stat.
    "api": TableAccess(read=("maintenance#*",), kinds=("maintenance", "vacuum")),
    # init-secret / rotate-secret.
    "admin": SECRET_CHECK,
    # Records and the guard's state; Powertools idempotency items of maintenance-schedule (deleted
    # when the call fails, so a retry runs again).
    "maintenance": read_write("maintenance#*", "maintenance-schedule#*", delete=("maintenance-schedule#*",))
    | SECRET_CHECK,
    "maintenance-steps": read_write("maintenance#*"),
    # Records, the mutex and progress items (vacuum#…; the mutex is deleted to release it), the
    # vacuum audit. (Each run's audit trail is its own kind-index partition, audit#vacuum#<id>.)
    "vacuum": read_write(
        "vacuum#*", "audit#vacuum#*", delete=("vacuum#*",), kinds=("vacuum", "audit#vacuum", "audit#vacuum#*")
    )
    | SECRET_CHECK,
    "vacuum-steps": read_write(
        "vacuum#*", "audit#vacuum#*", delete=("vacuum#*",), kinds=("vacuum", "audit#vacuum", "audit#vacuum#*")
    ),
    # Closes records whose execution ended outside OPS: vacuum records, the mutex and their audit;
    # maintenance records and the guard's state.
    "execution-status": read_write(
        "vacuum#*", "audit#vacuum#*", "maintenance#*", delete=("vacuum#*",), kinds=("vacuum", "maintenance")
    ),
}

# What each function has without the maintenance bracket's statements.
OWN_TABLE_ACCESS = dict(FUNCTION_TABLE_ACCESS)
for _key in MAINTENANCE_BRACKET_TABLE_FUNCTIONS:
    FUNCTION_TABLE_ACCESS[_key] = FUNCTION_TABLE_ACCESS[_key] | MAINTENANCE_BRACKET_ACCESS
