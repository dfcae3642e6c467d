"""``g3n ops local up``: the embedded local stack in the foreground."""

from __future__ import annotations

import json
import signal
import sys
import threading

import click

from g3n_ops_client.cli.common import stdout
from g3n_ops_client.local.stack import DEFAULT_PENDING_SECONDS, DEFAULT_PORT, LocalStack


def register(ops: click.Group) -> None:
    @ops.group("local")
    def local() -> None:
        """The embedded local stack (no AWS account needed)."""

    @local.command("up")
    @click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True)
    @click.option(
        "--pending-seconds",
        type=click.IntRange(0, 3600),
        default=DEFAULT_PENDING_SECONDS,
        show_default=True,
        help="The vacuum pending window on this stack (300 s when deployed).",
    )
    @click.option(
        "--seed", is_flag=True, help="Fill every service table, bucket and log group with sample data."
    )
    @click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
    def up(port: int, pending_seconds: int, seed: bool, output: str) -> None:
        """Run the local stack in the foreground until Ctrl-C."""
        stack = LocalStack(port=port, pending_seconds=pending_seconds)
        info = stack.start(seed=seed)
        document = {
            "endpointUrl": info.endpoint_url,
            "apiUrl": info.api_url,
            "servicesUrl": info.services_url,
            "pendingSeconds": pending_seconds,
            "seeded": seed,
        }
        if info.secret_generated:
            document["secretCode"] = info.secret_code  # generated here, shown once, never stored in clear
        if output == "json":
            print(json.dumps(document), flush=True)
        else:
            stdout.print(f"g3n OPS local stack on {info.endpoint_url} (API {info.api_url})", markup=False)
            stdout.print(f"  export G3N_OPS_ENDPOINT_URL={info.endpoint_url}", markup=False)
            if info.secret_generated:
                stdout.print(f"  generated secret code (shown once): {info.secret_code}", markup=False)
                stdout.print(f"  export G3N_OPS_SECRET_CODE={info.secret_code}", markup=False)
            stdout.print("Ctrl-C stops it.")
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        try:
            while not stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        stack.stop()
        if output != "json":
            stdout.print("local stack stopped")

    @local.command("demo")
    @click.option("--pending-seconds", type=click.IntRange(1, 60), default=3, show_default=True)
    def demo(pending_seconds: int) -> None:
        """Run every playbook end to end on a fresh embedded stack; non-zero exit if a step misbehaves."""
        from g3n_ops_client.demo import run_demo

        sys.exit(run_demo(pending_seconds=pending_seconds))
