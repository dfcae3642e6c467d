"""The client side of g3n OPS: the ``g3n`` CLI, the MCP server, the client library they share,
and the embedded local stack. Nothing here runs inside Lambda."""
