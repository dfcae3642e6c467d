"""Client-side operation groups (maintenance, vacuum), reached as ``OpsClient.maintenance`` and
``OpsClient.vacuum``; the CLI and the MCP server both call these."""
