"""The maintenance probes' view of one health URL: what counts as an answer, and what does not."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from g3n_ops.domain.maintenance_effect import PHASES, REQUEST_TIMEOUT_SECONDS, Answer, health
from g3n_ops_client.local import standins as standins_module


@pytest.fixture
def standins(ops, local_stack):
    # ``ops`` resets the stack: a window an earlier test of this process left open would make
    # every stand-in answer 503.
    yield local_stack
    for code in ("cat", "ord", "pos"):
        local_stack.rig_standin(code, None)


def test_answers_a_rigged_stand_in_gives(standins):
    base = standins.info.services_url
    assert health(f"{base}/cat/health") == Answer(200)
    standins.rig_standin("ord", "error")
    assert health(f"{base}/ord/health") == Answer(500)
    standins.rig_standin("pos", "timeout")
    began = time.monotonic()
    assert health(f"{base}/pos/health") == Answer(None)  # a hanging service is no answer ...
    assert (
        time.monotonic() - began < REQUEST_TIMEOUT_SECONDS + 1
    )  # ... after the timeout, not after it answers
    assert health(f"{base}/nope/health") == Answer(404)
    assert health("http://127.0.0.1:9/health") == Answer(None)  # nothing listens on the discard port


def test_a_hanging_stand_in_ends_with_api_gateways_timeout_not_its_own_answer(standins, monkeypatch):
    """Whoever still waits after the hang gets API Gateway's 504; the stand-in never reaches its
    guard, which after a stack has stopped would fail open on a table that is gone."""
    monkeypatch.setattr(standins_module, "HANG_SECONDS", 0.2)
    standins.rig_standin("pos", "timeout")
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{standins.info.services_url}/pos/health", timeout=10)
    assert answer.value.code == 504
    assert json.loads(answer.value.read()) == {"message": "Endpoint request timed out"}


def test_only_this_windows_503_counts_as_blocked_and_only_a_healthy_answer_as_recovered():
    blocked, recovered = PHASES["blocked"], PHASES["recovered"]
    assert blocked.shows(Answer(503, "mw-20261201-3f2a9c1d"), "mw-20261201-3f2a9c1d")
    assert not blocked.shows(Answer(503, None), "mw-20261201-3f2a9c1d")  # a 503 from an outage
    assert not blocked.shows(Answer(503, "mw-20261130-00000000"), "mw-20261201-3f2a9c1d")
    assert not blocked.shows(Answer(200), "mw-20261201-3f2a9c1d")
    assert recovered.shows(Answer(200), "x") and recovered.shows(Answer(404), "x")
    assert not any(recovered.shows(Answer(status), "x") for status in (None, 500, 502, 503))
