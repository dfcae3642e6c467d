"""The embedded local stack's lifecycle: start moto + gateway, provision, seed, reset, stop."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from moto.core.config import default_user_config
from werkzeug.serving import BaseWSGIServer, make_server

from g3n_ops import settings
from g3n_ops.observability import logger
from g3n_ops_client.local import lambda_runtime
from g3n_ops_client.local.gateway import API_PREFIX, SERVICES_PREFIX, Gateway
from g3n_ops_client.local.provision import Provisioner

DEFAULT_PORT = 4566
DEFAULT_PENDING_SECONDS = 10  # the deployed default is 300 s; locally a short window keeps playbooks quick
LOCAL_STAGE = "local"
LOCAL_ACCOUNT = "123456789012"
LOCAL_REGION = "us-east-1"


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
        lockout_threshold: int = 5,
        lockout_window_seconds: int = 900,
    ):
        self.port = port
        self.lockout = (lockout_threshold, lockout_window_seconds)
        self.pending_seconds = pending_seconds
        env_code = os.environ.get("G3N_OPS_SECRET_CODE")
        self.secret_code = secret_code or env_code or secrets.token_urlsafe(18)
        self.secret_generated = not (secret_code or env_code)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.provisioner: Provisioner | None = None

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
            POWERTOOLS_SERVICE_NAME="g3n-ops",
            POWERTOOLS_METRICS_NAMESPACE="G3nOps",
            POWERTOOLS_TRACE_DISABLED="true",
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
        dispatcher = lambda_runtime.LambdaDispatcher()
        lambda_runtime.install(dispatcher)
        self.provisioner = Provisioner(
            stage=LOCAL_STAGE,
            account=LOCAL_ACCOUNT,
            region=LOCAL_REGION,
            info=self.info,
            pending_seconds=self.pending_seconds,
            dispatcher=dispatcher,
            lockout=self.lockout,
        )
        gateway = Gateway(
            DomainDispatcherApplication(create_backend_app),
            api=self.provisioner.call_api,
            services=self.provisioner.standin_handlers(),
        )
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
        self.provisioner.provision(self.secret_code)
        if seed:
            self.provisioner.seed()
        return self.info

    def reset(self, *, seed: bool = True) -> dict | None:
        """Wipe every resource and provision (and seed) afresh, keeping the server running.

        Returns the seed manifest (what was written) when seeding."""
        assert self.provisioner is not None
        self.provisioner.stop_running_executions()  # or they write into the fresh tables
        request = urllib.request.Request(self.endpoint_url + "/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=30).read()
        self.provisioner.provision(self.secret_code)
        return self.provisioner.seed() if seed else None

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
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()
