"""The ids OPS mints. A well-formed id that does not exist answers ``*-not-found``; anything else
is ``invalid-input`` and never becomes a table key (``vacuum-status --vacuum-id mutex`` must not
read the mutex item)."""

from __future__ import annotations

VACUUM_ID_PATTERN = r"^[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$"
VACUUM_ID_EXAMPLE = "20261201-020000-3f2a9c"
MAINTENANCE_ID_PATTERN = r"^mw-[0-9]{8}-[0-9a-f]{8}$"
MAINTENANCE_ID_PREFIX = "mw-"
MAINTENANCE_ID_EXAMPLE = "mw-20261201-3f2a9c1d"
MAINTENANCE_ID_HINT = f"a maintenance id looks like {MAINTENANCE_ID_EXAMPLE}"
MAX_ID_LENGTH = 64
