"""``g3n ops local up``: the embedded local stack in the foreground; ``g3n ops local faults``:
change the faults it injects while it runs."""

from __future__ import annotations

import json
import signal
import sys
import threading
import urllib.error
import urllib.request

import click

from g3n_ops_client.cli.common import common_options, print_error, stdout
from g3n_ops_client.client import ENDPOINT_ENV
from g3n_ops_client.errors import OpsClientError
from g3n_ops_client.local.defaults import DEFAULT_PENDING_SECONDS, DEFAULT_PORT
from g3n_ops_client.local.faults import FaultSpecError, parse
from g3n_ops_client.local.gateway import FAULTS_PATH
from g3n_ops_client.local.iam.enforce import DEFAULT_MODE as IAM_DEFAULT_MODE
from g3n_ops_client.local.iam.enforce import MODES as IAM_MODES
from g3n_ops_client.local.iam.identities import IDENTITIES, credentials

IAM_HELP = (
    "IAM on the stack: enforce (each function acts as its deployed role, each documented identity as "
    "its policy; a call they do not allow is refused with AccessDenied), soft (logged, let through), off."
)
SPEC_HELP = (
    "Faults to inject into OPS's own AWS calls: a comma list of throttle=P, server=P, crash=P, "
    "latency=MS, each optionally @service (e.g. throttle=0.2,server=1.0@s3); none turns them off."
)
# up and demo run the same stack: the same IAM switch.
IAM_OPTION = click.option(
    "--iam", "iam", type=click.Choice(IAM_MODES), default=IAM_DEFAULT_MODE, show_default=True, help=IAM_HELP
)


def _valid_spec(_ctx, _param, value: str | None) -> str | None:
    """Refuse a bad SPEC as bad input (invalid-input) before anything starts or is sent."""
    if value is None:
        return None
    try:
        return parse(value).text()
    except FaultSpecError as error:
        raise click.BadParameter(str(error)) from None


def _faults_text(status: dict) -> None:
    seed = f" (seed {status['seed']})" if status.get("seed") is not None else ""
    stdout.print(f"faults: {status['faults']}{seed}", markup=False)
    injected = ", ".join(f"{kind} {count}" for kind, count in status["injected"].items())
    stdout.print(f"injected so far: {injected}", markup=False)


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
    @click.option("--faults", "faults", default=None, metavar="SPEC", callback=_valid_spec, help=SPEC_HELP)
    @click.option(
        "--fault-seed", type=int, default=None, metavar="N", help="Seed the fault draws (reproducible runs)."
    )
    @IAM_OPTION
    @click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
    def up(
        port: int,
        pending_seconds: int,
        seed: bool,
        faults: str | None,
        fault_seed: int | None,
        iam: str,
        output: str,
    ) -> None:
        """Run the local stack in the foreground until Ctrl-C. VACUUM_* variables in its environment
        (VACUUM_RETRY_SECONDS, VACUUM_CHUNK_ITEMS, ...) tune its vacuum."""
        from g3n_ops_client.local import LocalStack  # moto and the functions: only for this command

        stopped = _stop_on_signals()  # before the stack starts: a signal from then on stops it cleanly
        stack = LocalStack(
            port=port, pending_seconds=pending_seconds, faults=faults, fault_seed=fault_seed, iam=iam
        )
        info = stack.start(seed=seed)
        document = {
            "endpointUrl": info.endpoint_url,
            "apiUrl": info.api_url,
            "servicesUrl": info.services_url,
            "pendingSeconds": pending_seconds,
            "seeded": seed,
            "iam": iam,
            **stack.faults.status(),
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
            if stack.faults.spec.active:
                _faults_text(stack.faults.status())
            stdout.print("Ctrl-C stops it.")
        try:
            while not stopped.wait(0.5):
                pass
        finally:
            stack.stop()
        if output != "json":
            stdout.print("local stack stopped")

    @local.command("credentials")
    @click.argument("name", type=click.Choice(sorted(IDENTITIES)))
    @click.option(
        "--port",
        type=click.IntRange(1, 65535),
        default=DEFAULT_PORT,
        show_default=True,
        help="The stack's port.",
    )
    def credentials_command(name: str, port: int) -> None:
        """Print the environment that makes any AWS client (this CLI, boto3, the AWS CLI) act as the
        documented identity NAME on the local stack: operator (docs/iam/operator-policy.json),
        oncall (oncall-policy.json) or console (operator + console-starter-policy.json).
        Use: eval "$(g3n ops local credentials operator)"."""
        environment = {
            **credentials(name),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            ENDPOINT_ENV: f"http://127.0.0.1:{port}",
        }
        for variable, value in environment.items():
            print(f"export {variable}={value}")

    @local.command("faults")
    @click.argument("spec", required=False, default=None, callback=_valid_spec)
    @click.option(
        "--fault-seed", type=int, default=None, metavar="N", help="Seed the fault draws (reproducible runs)."
    )
    @common_options
    def faults(spec, fault_seed, output, endpoint_url, region, profile, stage) -> None:
        """Show, or set to SPEC, the faults the running local stack injects into OPS's own AWS calls
        (throttle=P, server=P, crash=P, latency=MS, each optionally @service; none = off)."""
        try:
            status = _control_faults(endpoint_url, spec, fault_seed)
        except OpsClientError as error:
            print_error(error, output)
            sys.exit(1)
        if output == "json":
            print(json.dumps(status))
        else:
            _faults_text(status)

    @local.command("demo")
    @click.option("--pending-seconds", type=click.IntRange(1, 60), default=3, show_default=True)
    @IAM_OPTION
    def demo(pending_seconds: int, iam: str) -> None:
        """Run every playbook end to end on a fresh embedded stack; non-zero exit if a step misbehaves."""
        from g3n_ops_client.demo import run_demo

        sys.exit(run_demo(pending_seconds=pending_seconds, iam=iam))


def _stop_on_signals() -> threading.Event:
    """An event SIGINT (Ctrl-C) or SIGTERM sets. Handlers of our own, not the dispositions this
    process inherited: started with SIGINT ignored (nohup, a background job, some test runners),
    Ctrl-C would otherwise never stop the stack."""
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    return stopped


def _control_faults(endpoint_url: str | None, spec: str | None, seed: int | None) -> dict:
    """GET (spec None) or POST the local stack's fault control route."""
    if not endpoint_url:
        raise OpsClientError("invalid-input", f"which local stack? pass --endpoint-url or set {ENDPOINT_ENV}")
    if spec is None and seed is not None:
        raise OpsClientError("invalid-input", "--fault-seed goes with a SPEC (the faults it seeds)")
    url = endpoint_url.rstrip("/") + FAULTS_PATH
    if spec is None:
        request = urllib.request.Request(url, method="GET")
    else:
        body = json.dumps({"faults": spec or "none", "seed": seed}).encode()
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"content-type": "application/json"}
        )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        try:
            refused = json.loads(error.read())["error"]
            raise OpsClientError(refused["code"], refused["message"]) from None
        except (ValueError, KeyError, TypeError):
            raise OpsClientError(
                "http-error", f"HTTP {error.code} from {url}: is {endpoint_url} a g3n local stack?"
            ) from None
    except urllib.error.URLError as error:
        raise OpsClientError("endpoint-unreachable", f"cannot reach {url}: {error.reason}") from None
