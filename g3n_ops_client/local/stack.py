"""The embedded local stack's lifecycle: start moto + gateway, provision, seed, reset, stop.

Faults (``faults.py``) are set with ``LocalStack(faults=..., fault_seed=...)``, ``set_faults`` or
the gateway's ``/_ops/local/faults`` route; provisioning and seeding are never faulted, and
``reset`` turns faults off so each test starts clean.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import urllib.request
import warnings
from dataclasses import dataclass

from moto.core.config import default_user_config
from werkzeug.serving import BaseWSGIServer, make_server

from g3n_ops import aws
from g3n_ops.observability import logger
from g3n_ops_client.local import lambda_runtime
from g3n_ops_client.local.faults import FaultController, FaultSpec
from g3n_ops_client.local.gateway import API_PREFIX, FAULTS_PATH, SERVICES_PREFIX, Gateway
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
        faults: FaultSpec | str | None = None,
        fault_seed: int | None = None,
    ):
        self.port = port
        self.pending_seconds = pending_seconds
        env_code = os.environ.get("G3N_OPS_SECRET_CODE")
        self.secret_code = secret_code or env_code or secrets.token_urlsafe(18)
        self.secret_generated = not (secret_code or env_code)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.provisioner: Provisioner | None = None
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
        dispatcher = lambda_runtime.LambdaDispatcher(self.faults)
        lambda_runtime.install(dispatcher)
        self.provisioner = Provisioner(
            stage=LOCAL_STAGE,
            account=LOCAL_ACCOUNT,
            region=LOCAL_REGION,
            info=self.info,
            pending_seconds=self.pending_seconds,
            dispatcher=dispatcher,
        )
        gateway = Gateway(
            DomainDispatcherApplication(create_backend_app),
            api=self.provisioner.call_api,
            services=self.provisioner.standin_handlers(),
            faults=self.faults,
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
        aws.add_client_hook(self.faults.hook)
        with self.faults.suspended():
            self.provisioner.provision(self.secret_code)
            if seed:
                self.provisioner.seed()
        return self.info

    @property
    def faults_url(self) -> str:
        return self.endpoint_url + FAULTS_PATH

    def set_faults(self, spec: FaultSpec | str | None, seed: int | None = None) -> FaultSpec:
        """Change the injected faults now (``None``/``""``/``"none"`` = off); counts restart."""
        return self.faults.set(spec, seed)

    def fault_counts(self) -> dict[str, int]:
        """How many faults of each kind were injected since the faults were last set."""
        return self.faults.status()["injected"]

    def reset(self, *, seed: bool = True) -> dict | None:
        """Wipe every resource and provision (and seed) afresh, keeping the server running.

        Faults are turned off (a test sets its own after). Returns the seed manifest (what was
        written) when seeding."""
        assert self.provisioner is not None
        self.faults.set(None)
        self.provisioner.stop_running_executions()  # or they write into the fresh tables
        request = urllib.request.Request(self.endpoint_url + "/moto-api/reset", method="POST")
        urllib.request.urlopen(request, timeout=30).read()
        self.provisioner.provision(self.secret_code)
        return self.provisioner.seed() if seed else None

    def stop(self) -> None:
        aws.remove_client_hook(self.faults.hook)
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
