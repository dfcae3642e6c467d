"""The embedded local stack's lifecycle: start moto + gateway, provision, seed, reset, stop.

Faults (``faults.py``) are set with ``LocalStack(faults=..., fault_seed=...)``, ``set_faults`` or
the gateway's ``/_ops/local/faults`` route; provisioning and seeding are never faulted, and
``reset`` turns faults off so each test starts clean.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import secrets
import threading
import time
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from moto.core.config import default_user_config
from werkzeug.serving import BaseWSGIServer, make_server

from g3n_ops import aws, settings
from g3n_ops.observability import logger
from g3n_ops_client.local import lambda_runtime, moto_patches
from g3n_ops_client.local.defaults import (
    DEFAULT_GUARD_TTL_SECONDS,
    DEFAULT_PENDING_SECONDS,
    DEFAULT_PORT,
    DEFAULT_PROBE_MARGIN_SECONDS,
    LOCAL_ACCOUNT,
    LOCAL_REGION,
    LOCAL_STAGE,
)
from g3n_ops_client.local.faults import FaultController, FaultSpec
from g3n_ops_client.local.gateway import API_PREFIX, FAULTS_PATH, SERVICES_PREFIX, Gateway
from g3n_ops_client.local.iam import context as iam_context
from g3n_ops_client.local.iam import enforce as iam_enforce
from g3n_ops_client.local.iam import hooks as iam_hooks
from g3n_ops_client.local.iam import usage as iam_usage
from g3n_ops_client.local.iam.identities import register_identities
from g3n_ops_client.local.iam.principals import moto_key_schema, register_functions
from g3n_ops_client.local.provision import Provisioner
from infra import catalogue

# How long stopping waits for the invocations of the executions it stopped to return.
STOP_SECONDS = 10


@dataclass
class LocalStackInfo:
    endpoint_url: str
    api_url: str
    services_url: str
    secret_code: str
    secret_generated: bool


class LocalStack:
    def __init__(
        self,
        *,
        port: int = DEFAULT_PORT,
        pending_seconds: int = DEFAULT_PENDING_SECONDS,
        secret_code: str | None = None,
        faults: FaultSpec | str | None = None,
        fault_seed: int | None = None,
        lockout_threshold: int = 5,
        lockout_window_seconds: int = 900,
        guard_ttl_seconds: int = DEFAULT_GUARD_TTL_SECONDS,
        probe_margin_seconds: int = DEFAULT_PROBE_MARGIN_SECONDS,
        iam: str = iam_enforce.DEFAULT_MODE,
    ):
        self.port = port
        # enforce | soft | off: each function acts as its deployed role (iam/enforce.py).
        self.iam = iam_enforce.IamEnforcer(
            iam,
            account=LOCAL_ACCOUNT,
            region=LOCAL_REGION,
            key_schema=moto_key_schema(LOCAL_ACCOUNT, LOCAL_REGION),
        )
        self.lockout = (lockout_threshold, lockout_window_seconds)
        self.pending_seconds = pending_seconds
        self.guard_ttl_seconds = guard_ttl_seconds
        self.probe_margin_seconds = probe_margin_seconds
        env_code = os.environ.get("G3N_OPS_SECRET_CODE")
        self.secret_code = secret_code or env_code or secrets.token_urlsafe(18)
        self.secret_generated = not (secret_code or env_code)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.provisioner: Provisioner | None = None
        self._gateway: Gateway | None = None
        # (seeded?, the gateway's write count) right after the last reset: equal now = still fresh.
        self._fresh: tuple[bool, int] | None = None
        self._manifest: dict | None = None
        # Parsed here, so a bad SPEC is refused before anything starts.
        self.faults = FaultController(faults, fault_seed)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def info(self) -> LocalStackInfo:
        return LocalStackInfo(
            endpoint_url=self.endpoint_url,
            api_url=self.endpoint_url + API_PREFIX,
            services_url=self.endpoint_url + SERVICES_PREFIX,
            secret_code=self.secret_code,
            secret_generated=self.secret_generated,
        )

    def _configure_process(self) -> None:
        """Point this process's AWS clients (and moto's interpreter) at the local endpoint."""
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        default_user_config["lambda"] = {"use_docker": False}
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=LOCAL_REGION,
            AWS_REGION=LOCAL_REGION,
            AWS_ENDPOINT_URL=self.endpoint_url,
            MOTO_PORT=str(self.port),
            POWERTOOLS_TRACE_DISABLED="true",
            **settings.POWERTOOLS_ENVIRONMENT,
        )
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        # EMF metrics go to stdout in Lambda (CloudWatch reads them); locally they are noise.
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        logger.setLevel(os.environ["POWERTOOLS_LOG_LEVEL"])
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        os.environ.pop("AWS_PROFILE", None)
        # Handlers run on the server's threads; their request logs are noise for an operator.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)

    def start(self, *, seed: bool = False) -> LocalStackInfo:
        """Serve on 127.0.0.1 (in a background thread of this process) and provision."""
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )

        self._configure_process()
        moto_patches.install()
        if self.iam.mode != "off":
            register_functions(self.iam, stage=LOCAL_STAGE)  # before anything starts: a synth may fail
            register_identities(self.iam, stage=LOCAL_STAGE)
            iam_hooks.install_process_hooks()
        iam_context.activate(self.iam)
        aws.set_container(iam_context.current_container)  # per-function caches, as in Lambda
        dispatcher = lambda_runtime.LambdaDispatcher(self.faults)
        lambda_runtime.install(dispatcher)
        self.provisioner = Provisioner(
            stage=LOCAL_STAGE,
            account=LOCAL_ACCOUNT,
            region=LOCAL_REGION,
            info=self.info,
            pending_seconds=self.pending_seconds,
            dispatcher=dispatcher,
            lockout=self.lockout,
            guard_ttl_seconds=self.guard_ttl_seconds,
            probe_margin_seconds=self.probe_margin_seconds,
        )
        gateway = Gateway(
            moto_patches.remembering_hosts(DomainDispatcherApplication)(create_backend_app),
            api=self.provisioner.call_api,
            services=self.provisioner.standin_handlers(),
            faults=self.faults,
            iam=self.iam,
        )
        self._gateway = gateway
        self._server = make_server(
            "127.0.0.1", self.port, gateway, threaded=True, request_handler=MotoRequestHandler
        )
        self.port = self._server.server_address[1]  # port 0 asks the OS for a free one
        self.provisioner.info = self.info
        self._configure_process()
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="g3n-local-stack", daemon=True
        )
        self._thread.start()
        aws.add_client_hook(self.faults.hook)
        with self.faults.suspended():
            self.provisioner.provision(self.secret_code)
            self._manifest = self.provisioner.seed() if seed else None
        self._fresh = (seed, gateway.writes)
        return self.info

    @property
    def changed(self) -> bool:
        """Whether an AWS request that may write reached the stack since its last reset."""
        assert self._gateway is not None and self._fresh is not None
        return self._gateway.writes != self._fresh[1]

    @property
    def faults_url(self) -> str:
        return self.endpoint_url + FAULTS_PATH

    def set_faults(self, spec: FaultSpec | str | None, seed: int | None = None) -> FaultSpec:
        """Change the injected faults now (``None``/``""``/``"none"`` = off); counts restart."""
        return self.faults.set(spec, seed)

    def fault_counts(self) -> dict[str, int]:
        """How many faults of each kind were injected since the faults were last set."""
        return self.faults.status()["injected"]

    def invocations_in_flight(self, function_key: str) -> int:
        """How many invocations of the function ``function_key`` (``vacuum-steps``) run now."""
        assert self.provisioner is not None
        return self.provisioner.dispatcher.running(function_key)

    def quiesce(self, *, timeout: float = STOP_SECONDS) -> bool:
        """Stop every execution, deliver their endings now (execution-status runs here, not during
        what comes next) and wait until no invocation is in flight: a test that counts or times
        requests starts from here. False if that took longer than ``timeout``."""
        assert self.provisioner is not None
        self.provisioner.stop_running_executions(deliver_endings=True)
        ended = self._wait_until_quiet(timeout=timeout)
        self.provisioner.status_watcher.sweep()
        return self._wait_until_quiet(timeout=timeout) and ended

    def _wait_until_quiet(self, *, timeout: float) -> bool:
        """Until no execution runs and no invocation is in flight, or ``timeout`` passes."""
        assert self.provisioner is not None
        deadline = time.monotonic() + timeout
        while self.provisioner.running_executions() or any(
            self.invocations_in_flight(spec.key) for spec in catalogue.FUNCTIONS
        ):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def reset(self, *, seed: bool = True) -> dict | None:
        """Wipe every resource and provision (and seed) afresh, keeping the server running.

        Faults are turned off (a test sets its own after). Returns the seed manifest (what was
        written) when seeding. When no AWS request that may write has reached the stack since the
        last reset with the same ``seed``, the stack is already in that state: only this process's
        side is refreshed (environment, caches, clients), which saves seconds per test."""
        assert self.provisioner is not None and self._gateway is not None
        self.faults.set(None)
        self.iam.restore()
        if self._fresh is not None and self._fresh[0] == seed and not self.changed:
            self.provisioner.refresh_process()
            return copy.deepcopy(self._manifest) if seed else None
        self.provisioner.stop_running_executions()  # or they write into the fresh tables
        request = urllib.request.Request(self.endpoint_url + "/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=30).read()
        self.provisioner.provision(self.secret_code)
        self._manifest = self.provisioner.seed() if seed else None
        self._fresh = (seed, self._gateway.writes)
        return copy.deepcopy(self._manifest)

    @contextlib.contextmanager
    def secret_lockout(self, *, threshold: int, window_seconds: int) -> Iterator[None]:
        """Run with other lockout thresholds (tests shorten the window), then restore them and
        clear the lockout counter so no later caller inherits it."""
        assert self.provisioner is not None
        saved = self.provisioner.lockout

        def apply(lockout: tuple[int, int]) -> None:
            self.provisioner.lockout = lockout  # type: ignore[union-attr]
            os.environ["SECRET_LOCKOUT_THRESHOLD"] = str(lockout[0])
            os.environ["SECRET_LOCKOUT_WINDOW_SECONDS"] = str(lockout[1])
            settings.settings.cache_clear()

        apply((threshold, window_seconds))
        self.provisioner.clear_secret_lockout()  # start from no failures, whoever made them
        try:
            yield
        finally:
            apply(saved)
            self.provisioner.clear_secret_lockout()

    def stop(self) -> None:
        # Executions first: a window left running would go on probing (and a vacuum purging)
        # against a server that is gone, from threads that outlive the stack.
        if self.provisioner is not None and self._server is not None:
            self.provisioner.stop_running_executions()
            if not self._wait_until_quiet(timeout=STOP_SECONDS):
                logger.warning("local stack stopped with executions or invocations still running")
        aws.remove_client_hook(self.faults.hook)
        iam_context.deactivate(self.iam)
        iam_usage.write_usage(self.iam)
        if self.provisioner is not None:
            self.provisioner.status_watcher.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def rig_standin(self, code: str, mode: str | None) -> None:
        """Tests: make a stand-in misbehave (``never-flip``, ``error``, ``timeout``) or behave again
        (None) until the next reset."""
        assert self.provisioner is not None
        self.provisioner.standins.rig(code, mode)

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
