"""What every ``g3n ops`` command shares: the global options, the client, output and errors."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click
from rich.console import Console

from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import OpsClientError

SECRET_ENV = "G3N_OPS_SECRET_CODE"

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class Run:
    """One command's context: its client and how it prints."""

    client: OpsClient
    output: str

    @property
    def json(self) -> bool:
        return self.output == "json"

    def emit(self, document: Any, text: Callable[[Any], None] | None = None) -> None:
        if self.json or text is None:
            print(json.dumps(document, indent=2, sort_keys=False, default=str))
        else:
            text(document)


def print_error(error: OpsClientError, output: str) -> None:
    if output == "json":
        print(json.dumps(error.to_dict()))
    else:
        stderr.print(f"error: {error.code}: {error.message}", markup=False)


def common_options(function: Callable) -> Callable:
    options = [
        click.option(
            "--output",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            help="text for people, json for tools (one document on stdout).",
        ),
        click.option(
            "--endpoint-url",
            envvar="G3N_OPS_ENDPOINT_URL",
            default=None,
            help="AWS endpoint, e.g. the local stack's http://127.0.0.1:4566.",
        ),
        click.option("--region", default=None, help="AWS region (default: your AWS configuration)."),
        click.option("--profile", default=None, help="AWS profile."),
        click.option("--stage", default=None, help="Refuse to act unless OPS runs this stage."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def ops_command(group: click.Group, name: str, *, source: str = "cli") -> Callable:
    """Register ``function(run, **options)`` as ``g3n ops <name>`` with the global options."""

    def decorate(function: Callable) -> click.Command:
        @functools.wraps(function)
        def command(output, endpoint_url, region, profile, stage, **options):
            config = ClientConfig.from_options(
                endpoint_url=endpoint_url, region=region, profile=profile, stage=stage, source=source
            )
            try:
                function(Run(OpsClient(config), output), **options)
            except OpsClientError as error:
                print_error(error, output)
                sys.exit(1)

        return group.command(name, help=function.__doc__)(common_options(command))

    return decorate


def secret_code_option(function: Callable) -> Callable:
    return click.option(
        "--secret-code",
        default=None,
        metavar="CODE",
        help=f"The operator secret code (or set {SECRET_ENV}; prompted for when neither is given).",
    )(function)


def resolve_secret(value: str | None, *, name: str = "secret code") -> str:
    """--secret-code, then G3N_OPS_SECRET_CODE, then a hidden prompt on a terminal."""
    if value:
        return value
    if os.environ.get(SECRET_ENV):
        return os.environ[SECRET_ENV]
    return prompt_secret(name, hint=f"pass --secret-code or set {SECRET_ENV}")


def prompt_secret(name: str, *, hint: str = "") -> str:
    """A hidden prompt, only where a person is typing (never block a script on stdin)."""
    if sys.stdin.isatty():
        return click.prompt(name.capitalize(), hide_input=True)
    raise OpsClientError("secret-code-required", f"no {name} given; {hint or 'pass it as an option'}")
