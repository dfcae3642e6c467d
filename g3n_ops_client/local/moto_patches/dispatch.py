"""How moto's server finds a backend and an action for a request, and how botocore loads its
models: the local stack's hottest path, each done once instead of on every request or session."""

from __future__ import annotations

import functools
import threading

import botocore.loaders
import botocore.session


def one_model_loader() -> None:
    """Every botocore Session loads the service models (and the endpoint rules) from disk again
    for its first client: ~110 ms of CPU, against ~15 ms with the models at hand. On AWS each
    function's container loads them once; here every function, stand-in, client and test shares
    one process and makes sessions all the time (a third of the test suite's CPU went there).
    Sessions of this process share one loader per data path (its cache is the models it read)."""
    if getattr(botocore.session.Session._register_data_loader, "shared_loader", False):
        return
    loaders: dict[object, botocore.loaders.Loader] = {}
    lock = threading.Lock()

    def shared(data_path) -> botocore.loaders.Loader:
        with lock:
            if data_path not in loaders:
                loaders[data_path] = botocore.loaders.create_loader(data_path)
            return loaders[data_path]

    def register_shared_loader(self) -> None:
        self._components.lazy_register_component(
            "data_loader", lambda: shared(self.get_config_variable("data_path"))
        )

    register_shared_loader.shared_loader = True  # type: ignore[attr-defined]
    botocore.session.Session._register_data_loader = register_shared_loader


def remembering_hosts(base: type) -> type:
    """moto's dispatcher, remembering which backend serves a host. moto's own lookup lists and
    stats its package directory (~150 entries) and tries ~300 URL patterns on every request, under
    one lock that every request takes: the local stack's hottest path (and its queue) under load."""

    class RememberingHosts(base):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._backend_by_host: dict[str | None, object] = {}

        def get_backend_for_host(self, host: str | None):  # called under moto's lock
            if host not in self._backend_by_host:
                self._backend_by_host[host] = super().get_backend_for_host(host)
            return self._backend_by_host[host]

    return RememberingHosts


def action_names_listed_once() -> None:
    """moto finds a request's action among its response class's methods by listing and sorting
    every member of the class (``inspect.getmembers``, ~300 of them for DynamoDB) on every
    request: ~1 ms each. A class's methods do not change while the server runs: listed once."""
    from moto.core import responses

    if hasattr(responses.method_names_from_class, "cache_info"):
        return
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)


def no_debug_subclass_per_request() -> None:
    """moto runs its Flask apps in debug mode, where Flask builds a new class for every request
    that has a body, only to word a KeyError on ``request.files`` better (~3 ms a request; moto's
    backends never read ``files``). Everything else debug mode does stays as moto has it."""
    from flask import debughelpers

    helper = getattr(debughelpers, "attach_enctype_error_multidict", None)
    if helper is None or getattr(helper, "skipped", False):  # another Flask, or done already
        return

    def skipped(request) -> None:
        return None

    skipped.skipped = True  # type: ignore[attr-defined]
    debughelpers.attach_enctype_error_multidict = skipped
