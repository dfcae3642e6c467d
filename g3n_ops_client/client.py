"""The client library the CLI and the MCP server share.

It discovers OPS from the SSM parameters under ``/g3nretailstack/ops/`` (a stage other than the
default's under ``/g3nretailstack/ops/stages/<stage>/``: ``--stage``), calls direct operations
by invoking their Lambda functions, and reads through the HTTP API (SigV4-signed for its IAM auth).
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

from g3n_ops.contract import discovery
from g3n_ops.contract.registry import Registry
from g3n_ops_client.errors import OpsClientError

ENDPOINT_ENV = "G3N_OPS_ENDPOINT_URL"
DEFAULT_REGION = "us-east-1"
# The client's own calls must answer an operator quickly; the vacuum steps do the long work.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=120, connect_timeout=5)
_local_clients: dict[tuple, Any] = {}
_local_clients_lock = threading.Lock()  # sessions make one client at a time
# An operation the account throttled (or that met a transient AWS failure) past the function's own
# retries is sent again, a few times, when repeating it cannot do anything twice: a read, or a
# request carrying its requestId (the function answers a repeat with the first attempt's record).
TRANSIENT_ERROR_CODES = frozenset({"aws-throttled", "aws-unavailable"})
READ_OPERATIONS = frozenset({"vacuum-status", "vacuum-list", "vacuum-events"})
INVOKE_ATTEMPTS = 4
INVOKE_BACKOFF_SECONDS = 0.5  # doubling, full jitter


@dataclass(frozen=True)
class ClientConfig:
    endpoint_url: str | None = None
    region: str | None = None
    profile: str | None = None
    stage: str | None = None
    source: str = "cli"

    @classmethod
    def from_options(cls, *, endpoint_url=None, region=None, profile=None, stage=None, source="cli"):
        return cls(
            endpoint_url=endpoint_url or os.environ.get(ENDPOINT_ENV) or None,
            region=region,
            profile=profile,
            stage=stage,
            source=source,
        )


def translate_aws_error(error: Exception) -> OpsClientError:
    """One place that turns transport failures into codes an operator can act on."""
    if isinstance(error, EndpointConnectionError):
        return OpsClientError("endpoint-unreachable", f"cannot reach AWS endpoint: {error}")
    if isinstance(error, NoCredentialsError):
        return OpsClientError(
            "no-credentials", "no AWS credentials found; use --profile, or --endpoint-url for the local stack"
        )
    if isinstance(error, NoRegionError):
        return OpsClientError("no-credentials", "no AWS region configured; pass --region")
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return OpsClientError("aws-error", f"{details.get('Code', 'Error')}: {details.get('Message', error)}")
    return OpsClientError("aws-error", str(error))


class OpsClient:
    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config or ClientConfig.from_options()
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()  # a session makes one client at a time

    # -- AWS plumbing ----------------------------------------------------------------------------
    @cached_property
    def session(self) -> boto3.session.Session:
        if self.config.endpoint_url:
            # The local stack needs no credentials; never pick up a real profile by accident. Only
            # the keys of a local identity (``g3n ops local credentials NAME``) are taken from the
            # environment: the client then acts as that identity; any other key acts as the admin.
            from g3n_ops_client.local.iam.identities import is_identity_key

            key = os.environ.get("AWS_ACCESS_KEY_ID")
            local_identity = is_identity_key(key)
            return boto3.session.Session(
                aws_access_key_id=key if local_identity else "local",
                aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") if local_identity else "local",
                region_name=self.config.region or DEFAULT_REGION,
            )
        return boto3.session.Session(profile_name=self.config.profile, region_name=self.config.region)

    def aws(self, service: str):
        """This client's boto3 client for ``service``, made once: a poll (``vacuum wait``, say)
        reuses it instead of paying a client's creation on every call. Against a local stack, one
        client serves every OpsClient of the process with the same endpoint and keys (the demo and
        the tests make one per step); against AWS each keeps its own, as its profile may change."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = (
                    self._local_client(service) if self.config.endpoint_url else self._new_client(service)
                )
            return self._clients[service]

    def _new_client(self, service: str):
        return self.session.client(service, endpoint_url=self.config.endpoint_url, config=_CONFIG)

    def _local_client(self, service: str):
        keys = self.session.get_credentials()  # static keys: the local admin's or an identity's
        key = (service, self.config.endpoint_url, self.session.region_name, keys.access_key, keys.secret_key)
        with _local_clients_lock:
            if key not in _local_clients:
                _local_clients[key] = self._new_client(service)
            return _local_clients[key]

    @cached_property
    def parameters(self) -> dict[str, str]:
        """The stage's discovery parameters, under their unscoped names (``discovery.API_URL``, …)
        whatever the stage. ``--stage`` chooses: the default and local stages write the unscoped
        names, every other stage its own under ``/g3nretailstack/ops/stages/<stage>/``
        (``discovery.prefix``). Without ``--stage``, the stage of the unscoped names. A stage
        deployed before names were scoped (unscoped names that say its stage) is found too."""
        stage = self.config.stage
        scoped_prefix = discovery.prefix(stage)
        if scoped_prefix != discovery.PREFIX:
            found = self._read_parameters(scoped_prefix)
            if discovery.scoped(discovery.STAGE, stage) in found:
                return {discovery.unscoped(name, stage): value for name, value in found.items()}
        everything = self._read_parameters(discovery.PREFIX)
        found = {
            name: value
            for name, value in everything.items()
            if not name.startswith(discovery.STAGES_PREFIX + "/")  # other stages' own names
        }
        deployed = found.get(discovery.STAGE)
        if deployed is not None and (stage is None or deployed == stage):
            return found
        stages = sorted(
            {value for name, value in everything.items() if name == discovery.STAGE}
            | {
                value
                for name, value in everything.items()
                if name.startswith(discovery.STAGES_PREFIX + "/")
                and name.removeprefix(discovery.STAGES_PREFIX + "/").count("/") == 1
                and name.endswith("/stage")
            }
        )
        where = self.config.endpoint_url or f"region {self.session.region_name}"
        if not stages:
            raise OpsClientError(
                "ops-not-deployed", f"no OPS parameters under {discovery.PREFIX}/ at {where}"
            )
        if stage is None:
            raise OpsClientError(
                "ops-not-deployed",
                f"no OPS stage under {discovery.PREFIX}/ at {where}; the stages here are "
                f"{', '.join(stages)}: choose one with --stage",
            )
        raise OpsClientError(
            "stage-mismatch",
            f"asked for stage {stage}, but the stages at {where} are {', '.join(stages)}",
        )

    def _read_parameters(self, path: str) -> dict[str, str]:
        """Every parameter under ``path``, in one paginated call."""
        try:
            pages = self.aws("ssm").get_paginator("get_parameters_by_path")
            return {
                parameter["Name"]: parameter["Value"]
                for page in pages.paginate(Path=path, Recursive=True)
                for parameter in page["Parameters"]
            }
        except (BotoCoreError, ClientError) as error:
            raise translate_aws_error(error) from None

    def parameter(self, name: str) -> str:
        try:
            return self.parameters[name]
        except KeyError:
            raise OpsClientError("ops-not-deployed", f"missing discovery parameter {name}") from None

    @cached_property
    def actor(self) -> str:
        try:
            return self.aws("sts").get_caller_identity()["Arn"]
        except (BotoCoreError, ClientError):
            return "unknown"

    # -- calls -----------------------------------------------------------------------------------
    def invoke(self, function_key: str, operation: str, **fields: Any) -> dict:
        """Run a direct operation; returns its result or raises its error code."""
        payload = {"operation": operation, "source": self.config.source, "actor": self.actor}
        payload.update({key: value for key, value in fields.items() if value is not None})
        function_name = self.parameter(discovery.function_parameter(function_key))
        repeatable = operation in READ_OPERATIONS or "requestId" in payload
        attempt = 0
        while True:
            try:
                return self._invoke_once(function_name, payload)
            except OpsClientError as error:
                attempt += 1
                if not (repeatable and error.code in TRANSIENT_ERROR_CODES and attempt < INVOKE_ATTEMPTS):
                    raise
            time.sleep(random.uniform(0, INVOKE_BACKOFF_SECONDS * 2**attempt))

    def _invoke_once(self, function_name: str, payload: dict) -> dict:
        try:
            response = self.aws("lambda").invoke(
                FunctionName=function_name, Payload=json.dumps(payload).encode()
            )
        except (BotoCoreError, ClientError) as error:
            raise translate_aws_error(error) from None
        body = json.loads(response["Payload"].read() or b"null")
        if response.get("FunctionError"):
            message = body.get("errorMessage", "the function failed") if isinstance(body, dict) else str(body)
            raise OpsClientError("lambda-error", f"{function_name}: {message}")
        if isinstance(body, dict) and "error" in body:
            raise OpsClientError(body["error"]["code"], body["error"]["message"])
        return body["result"]

    def get(self, path: str, **query: Any) -> dict:
        """A signed GET on the OPS HTTP API."""
        params = {key: str(value) for key, value in query.items() if value is not None}
        url = self.parameter(discovery.API_URL).rstrip("/") + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = AWSRequest(method="GET", url=url, headers={"accept": "application/json"})
        credentials = self._credentials()
        if credentials is not None:
            SigV4Auth(credentials, "execute-api", self.session.region_name or DEFAULT_REGION).add_auth(
                request
            )
        prepared = urllib.request.Request(url, headers=dict(request.headers.items()), method="GET")
        try:
            with urllib.request.urlopen(prepared, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise _http_error(error) from None
        except urllib.error.URLError as error:
            raise OpsClientError("endpoint-unreachable", f"cannot reach {url}: {error.reason}") from None

    def _credentials(self) -> Credentials | None:
        credentials = self.session.get_credentials()
        return credentials.get_frozen_credentials() if credentials else None

    # -- operations ------------------------------------------------------------------------------
    @cached_property
    def maintenance(self):
        from g3n_ops_client.operations.maintenance import MaintenanceOperations

        return MaintenanceOperations(self)

    @cached_property
    def vacuum(self):
        from g3n_ops_client.operations.vacuum import VacuumOperations

        return VacuumOperations(self)

    def ping(self) -> dict:
        return self.get("/ping")

    def stat(self) -> dict:
        return self.get("/stat")

    def services(self) -> dict:
        return {"services": self.registry().to_document()["services"]}

    def registry(self) -> Registry:
        return Registry.model_validate_json(self.parameter(discovery.REGISTRY))

    def init_secret(self, secret_code: str) -> dict:
        """Set the first secret code of a new stack (refused once one exists)."""
        return self.invoke("admin", "init-secret", secretCode=secret_code)

    def rotate_secret(self, secret_code: str, new_secret_code: str) -> dict:
        return self.invoke("admin", "rotate-secret", secretCode=secret_code, newSecretCode=new_secret_code)


def _http_error(error: urllib.error.HTTPError) -> OpsClientError:
    try:
        body = json.loads(error.read())
        return OpsClientError(body["error"]["code"], body["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return OpsClientError("http-error", f"HTTP {error.code} from {error.url}")
