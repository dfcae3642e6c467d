"""Functions read the registry once per cache period, not on every call (stat, every purge chunk)."""

import boto3

from g3n_ops import aws
from g3n_ops.registry import forget_cached_registry, load_registry


def test_the_registry_is_read_from_ssm_once_per_cache_period(local_stack):
    local_stack.reset(seed=False)
    calls: list[str] = []
    ssm = aws.client("ssm")
    ssm.meta.events.register("before-call.ssm.GetParameter", lambda **_: calls.append("GetParameter"))
    forget_cached_registry()
    first = load_registry()
    assert [load_registry() for _ in range(5)] == [first] * 5
    assert calls == ["GetParameter"]
    assert len(first.api_services) == 14
    # A re-published registry is seen once the cache is dropped (in AWS: after at most 5 minutes).
    boto3.client("ssm").put_parameter(
        Name="/g3nretailstack/ops/registry",
        Value=first.model_copy(update={"services": first.services[:1]}).model_dump_json(by_alias=True),
        Type="String",
        Overwrite=True,
    )
    assert len(load_registry().services) == 15
    forget_cached_registry()
    assert len(load_registry().services) == 1
    local_stack.reset(seed=False)
