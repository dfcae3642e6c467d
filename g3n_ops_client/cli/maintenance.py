"""``g3n ops maintenance-*`` commands."""

from __future__ import annotations

import click


def register(ops: click.Group) -> None:
    pass
