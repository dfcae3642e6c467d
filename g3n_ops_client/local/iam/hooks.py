"""The process hooks of local IAM: every AWS request is signed with the acting principal's key
(a patch of botocore's SigV4 signer, so it covers every client of the process: OPS's, Powertools',
the notifier's), and a thread started while a principal acts carries it (``threading.Thread``
and ``ThreadPoolExecutor``), as every thread of a Lambda process has the role."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from botocore.auth import SigV4Auth

from g3n_ops_client.local.iam.context import acting_as, current

_installed = False
_install_lock = threading.Lock()


def install_process_hooks() -> None:
    """Once per process: requests are signed with the current principal's key, and threads started
    while a principal acts carry it."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _installed = True
    add_auth = SigV4Auth.add_auth

    def signed_as_current(self, request):
        principal = current()
        if principal is not None:
            self.credentials = principal.credentials
        return add_auth(self, request)

    SigV4Auth.add_auth = signed_as_current

    start, run = threading.Thread.start, threading.Thread.run

    def start_carrying(self):
        self._g3n_principal = current()
        return start(self)

    def run_carrying(self):
        principal = getattr(self, "_g3n_principal", None)
        if principal is None:
            return run(self)
        with acting_as(principal):
            return run(self)

    threading.Thread.start = start_carrying
    threading.Thread.run = run_carrying

    submit = ThreadPoolExecutor.submit

    def submit_carrying(self, fn, /, *args, **kwargs):
        principal = current()
        if principal is None:
            return submit(self, fn, *args, **kwargs)

        def carried(*a, **k):
            with acting_as(principal):
                return fn(*a, **k)

        return submit(self, carried, *args, **kwargs)

    ThreadPoolExecutor.submit = submit_carrying
