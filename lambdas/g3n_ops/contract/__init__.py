"""OPS's contract: the facts every layer shares, each said once.

Dependency-free (standard library only), so infra (``cdk synth``), the client, the MCP server,
the local stack and the functions all import it, and nothing else of each other's.

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
"""
