"""Stages sharing an account: each writes its own discovery parameters, and ``--stage`` picks
whose the client reads (``g3n_ops.contract.discovery``; the stack side is tested in tests/infra).

On the local stack a second stage ``qa`` is published the way the stack would publish it
(``/g3nretailstack/ops/stages/qa/…``), next to the local stack's own unscoped names.
"""

from __future__ import annotations

import boto3
import pytest

from g3n_ops.contract import discovery
from g3n_ops_client.client import ClientConfig, OpsClient
from g3n_ops_client.errors import OpsClientError
from tests.support import run_cli_json

QA = "qa"


def _unscoped_parameters() -> dict[str, str]:
    pages = boto3.client("ssm").get_paginator("get_parameters_by_path")
    return {
        parameter["Name"]: parameter["Value"]
        for page in pages.paginate(Path=discovery.PREFIX, Recursive=True)
        for parameter in page["Parameters"]
        if not parameter["Name"].startswith(discovery.STAGES_PREFIX + "/")
    }


@pytest.fixture
def qa_stage(seeded):
    """Stage qa's parameters, as its stack writes them: the local stack's values, except its
    stage and its function names (a function ``g3n-qa-ops-<key>`` that does not exist here)."""
    ssm = boto3.client("ssm")
    values = _unscoped_parameters()
    values[discovery.STAGE] = QA
    for name in values:
        if name.startswith(f"{discovery.PREFIX}/functions/"):
            values[name] = f"g3n-{QA}-ops-{name.rsplit('/', 1)[-1]}"
    written = []
    try:
        for name, value in values.items():
            scoped = discovery.scoped(name, QA)
            tier = "Advanced" if len(value.encode()) > 4096 else "Standard"
            ssm.put_parameter(Name=scoped, Value=value, Type="String", Overwrite=True, Tier=tier)
            written.append(scoped)
        yield values
    finally:
        for start in range(0, len(written), 10):
            ssm.delete_parameters(Names=written[start : start + 10])


def test_stage_picks_the_stages_own_parameters(qa_stage, local_stack, capsys):
    qa = OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url, stage=QA))
    assert qa.parameters == qa_stage  # under the unscoped names, whatever the stage
    assert qa.parameter(discovery.function_parameter("vacuum")) == f"g3n-{QA}-ops-vacuum"
    # Without --stage (or with the local stack's own), the unscoped names, qa's left out.
    for stage in (None, "local"):
        local = OpsClient(ClientConfig(endpoint_url=local_stack.endpoint_url, stage=stage))
        assert local.parameters == _unscoped_parameters()
        assert local.parameter(discovery.STAGE) == "local"
    # The CLI follows --stage: qa's API answers (the local one, here) ...
    code, out = run_cli_json(capsys, "ops", "ping", "--stage", QA)
    assert code == 0 and out["status"] == "ok"
    # ... and its operations invoke qa's functions, which this account does not have.
    with pytest.raises(OpsClientError) as refused:
        qa.vacuum.list()
    assert f"g3n-{QA}-ops-vacuum" in str(refused.value)


def test_an_unknown_stage_is_refused_naming_the_stages_there(qa_stage, capsys):
    code, out = run_cli_json(capsys, "ops", "ping", "--stage", "nope")
    assert code != 0 and out["error"]["code"] == "stage-mismatch"
    assert "local, qa" in out["error"]["message"]


# -- the client's choice, without a stack ------------------------------------------------------------------


def stub(monkeypatch, parameters: dict[str, str], stage: str | None) -> OpsClient:
    client = OpsClient(ClientConfig(endpoint_url="http://stub", stage=stage))
    monkeypatch.setattr(
        client,
        "_read_parameters",
        lambda path: {name: value for name, value in parameters.items() if name.startswith(path + "/")},
    )
    return client


def test_a_stage_deployed_before_names_were_scoped_is_still_found(monkeypatch):
    legacy = {discovery.STAGE: "test", discovery.API_URL: "https://test.example"}
    assert stub(monkeypatch, legacy, "test").parameter(discovery.API_URL) == "https://test.example"
    with pytest.raises(OpsClientError) as refused:
        _ = stub(monkeypatch, legacy, "prod").parameters
    assert refused.value.code == "stage-mismatch"


def test_without_stage_and_only_scoped_stages_the_error_lists_them(monkeypatch):
    scoped = {f"{discovery.STAGES_PREFIX}/{stage}/stage": stage for stage in ("test", "qa")}
    with pytest.raises(OpsClientError) as refused:
        _ = stub(monkeypatch, scoped, None).parameters
    assert refused.value.code == "ops-not-deployed" and "qa, test" in str(refused.value)
    assert "--stage" in str(refused.value)
    with pytest.raises(OpsClientError) as nothing:
        _ = stub(monkeypatch, {}, None).parameters
    assert nothing.value.code == "ops-not-deployed"
