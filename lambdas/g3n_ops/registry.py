"""The service registry as the functions read it: the published SSM parameter, cached per
container (the document's model is ``g3n_ops.contract.registry``)."""

from __future__ import annotations

from g3n_ops.contract.registry import Registry

REGISTRY_CACHE_SECONDS = 300

# One per container: Powertools caches per provider instance. Keyed by ``aws.container()``: in
# Lambda always the same; on the local stack, where every function runs in one process, each
# function has its own (a registry one function read must not spare another the read its own
# role has to allow).
_providers: dict[str, object] = {}


def load_registry() -> Registry:
    """The registry the stack published, cached for five minutes per container."""
    from aws_lambda_powertools.utilities import parameters

    from g3n_ops.aws import client, container
    from g3n_ops.settings import settings

    key = container()
    provider = _providers.get(key)
    if provider is None:
        provider = _providers[key] = parameters.SSMProvider(boto3_client=client("ssm"))
    document = provider.get(settings().registry_parameter, transform="json", max_age=REGISTRY_CACHE_SECONDS)
    return Registry.model_validate(document)


def forget_cached_registry() -> None:
    """Drop the cached registries and their clients (the local stack calls this when it re-provisions)."""
    _providers.clear()
