"""``g3n ops ping | stat | services | init-secret | rotate-secret``."""

from __future__ import annotations

import os

import click

from g3n_ops_client.cli import render
from g3n_ops_client.cli.common import (
    SECRET_ENV,
    Run,
    ops_command,
    prompt_secret,
    resolve_secret,
    secret_code_option,
    stdout,
)
from g3n_ops_client.errors import OpsClientError


def register(ops: click.Group) -> None:
    @ops_command(ops, "ping")
    def ping(run: Run) -> None:
        """Health and the maintenance state."""
        run.emit(run.client.ping(), render.ping)

    @ops_command(ops, "stat")
    def stat(run: Run) -> None:
        """At a glance: maintenance counts by status, the last vacuum, service table item counts."""
        run.emit(run.client.stat(), render.stat)

    @ops_command(ops, "services")
    def services(run: Run) -> None:
        """The service registry: every table, bucket and log group a vacuum would touch."""
        run.emit(run.client.services(), render.services)

    @ops_command(ops, "init-secret")
    @secret_code_option
    def init_secret(run: Run, secret_code: str | None) -> None:
        """Set the secret code of a newly deployed stack; works only while none is set."""
        code = resolve_secret(secret_code, name="new secret code")
        typed = not secret_code and not os.environ.get(SECRET_ENV)
        if typed and prompt_secret("new secret code again") != code:  # a typo would lock you out
            raise OpsClientError("invalid-input", "the two codes typed differ; nothing was set")
        run.emit(run.client.init_secret(code), lambda _: stdout.print("secret code set"))

    @ops_command(ops, "rotate-secret")
    @secret_code_option
    @click.option(
        "--new-secret-code", default=None, metavar="CODE", help="The new code (prompted if absent)."
    )
    def rotate_secret(run: Run, secret_code: str | None, new_secret_code: str | None) -> None:
        """Replace the secret code; needs the current one."""
        current = resolve_secret(secret_code)
        new = new_secret_code or prompt_secret("new secret code")
        run.emit(run.client.rotate_secret(current, new), lambda _: stdout.print("secret code rotated"))
