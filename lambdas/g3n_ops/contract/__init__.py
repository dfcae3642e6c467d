"""OPS's contract: the facts every layer shares, each said once.

It imports nothing else of the product. The functions and the local stack import it, and infra
(``cdk synth``), the client and the MCP server import it and nothing else of the functions' code
(infra also imports ``g3n_ops.settings``, which produces what it deploys); tests/unit/test_contract.py
checks both. The standard library only, except the registry's document model, which pydantic
validates wherever the document is read.

- ``ids``         the ids OPS mints and the patterns that accept them
- ``statuses``    the lifecycle statuses (``StrEnum``) and which of them are final
- ``errors``      the stable error codes, one exception class each
- ``metrics``     the metric names (the alarms watch these) and their namespace
- ``events``      the lifecycle event types and the Step Functions events OPS listens to
- ``keys``        the OPS table's record kinds and key formats
- ``maintenance`` the limits of a maintenance window (durations, texts, HTTP methods)
- ``vacuum``      what a vacuum request must say
- ``timestamps``  the one timestamp format
- ``discovery``   the SSM parameter names a stage publishes
- ``table``       the OPS table's keys and indexes (the construct and the local stack build it)
- ``registry``    the service registry's document (pydantic)
"""
