"""The ``g3n`` command line: ``g3n ops <command>``."""

from __future__ import annotations

import sys

import click

from g3n_ops_client.cli import core, local, maintenance, mcp, vacuum
from g3n_ops_client.cli.common import print_error
from g3n_ops_client.errors import OpsClientError


@click.group()
@click.version_option(package_name="g3n-ops")
def g3n() -> None:
    """g3nretailstack command line."""


@g3n.group()
def ops() -> None:
    """OPS: maintenance windows, vacuum, and the platform's health."""


for module in (core, maintenance, vacuum, mcp, local):
    module.register(ops)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    try:
        g3n.main(args=args, prog_name="g3n", standalone_mode=False)
    except click.UsageError as error:
        # Bad flags are bad input like any other: same code, same shape, non-zero exit.
        output = "json" if "--output=json" in args or _option_value(args, "--output") == "json" else "text"
        message = error.format_message()
        if error.ctx is not None and output == "text":
            message += f"\n{error.ctx.get_usage()}"
        print_error(OpsClientError("invalid-input", message), output)
        sys.exit(2)
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except click.exceptions.Exit as exit_:
        sys.exit(exit_.exit_code)


def _option_value(args: list[str], name: str) -> str | None:
    if name in args and args.index(name) + 1 < len(args):
        return args[args.index(name) + 1]
    return None
