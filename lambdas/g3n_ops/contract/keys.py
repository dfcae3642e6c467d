"""The OPS table: one item per record, found by ``pk``; listings through the kind index
(hash ``kind``, range ``sortKey``, an ISO timestamp, so newest first).

  vacuum#<id>                        a vacuum run                 (kind=vacuum)
  vacuum#mutex                       the one-run-at-a-time mutex
  audit#vacuum#<id>#<key>            a run's trail entry          (kind=audit#vacuum#<id>)
  maintenance#<id>                   a maintenance window         (kind=maintenance)
  maintenance#state                  what the guard reads
  maintenance-schedule#<name>        a recurring window's state
  secret, lockout#secret             the secret code's hash and its lockout budget
  audit#secret#<at>#<token>          a security audit entry       (kind=audit#secret)
"""

from __future__ import annotations

from enum import StrEnum

KIND_INDEX = "kind-index"


class Kind(StrEnum):
    VACUUM = "vacuum"
    VACUUM_AUDIT = "audit#vacuum"  # + "#<id>": each run's trail is its own partition
    MAINTENANCE = "maintenance"
    SECRET_AUDIT = "audit#secret"


VACUUM_PREFIX = "vacuum#"
VACUUM_MUTEX_PK = "vacuum#mutex"
MAINTENANCE_PREFIX = "maintenance#"
MAINTENANCE_STATE_PK = "maintenance#state"
MAINTENANCE_SCHEDULE_PREFIX = "maintenance-schedule#"
SECRET_PK = "secret"
SECRET_LOCKOUT_PK = "lockout#secret"


def vacuum_pk(vacuum_id: str) -> str:
    return f"{VACUUM_PREFIX}{vacuum_id}"


def maintenance_pk(maintenance_id: str) -> str:
    return f"{MAINTENANCE_PREFIX}{maintenance_id}"


def vacuum_audit_kind(vacuum_id: str) -> str:
    return f"{Kind.VACUUM_AUDIT}#{vacuum_id}"


def below(prefix: str) -> str:
    """The IAM ``dynamodb:LeadingKeys`` pattern for every key under a prefix: ``vacuum#*``."""
    return f"{prefix.rstrip('#')}#*"
