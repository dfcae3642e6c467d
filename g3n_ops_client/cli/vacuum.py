"""``g3n ops vacuum-*`` commands."""

from __future__ import annotations

import click


def register(ops: click.Group) -> None:
    pass
