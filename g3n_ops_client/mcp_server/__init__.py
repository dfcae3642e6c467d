"""The MCP server: OPS's operations as tools for an assistant, over stdio (``g3n ops mcp``).

A thin adapter over ``OpsClient``, the library the CLI uses, so a tool and its CLI command send
the same request and fail with the same error code. Three rules keep the operator in charge:

- Every tool that writes (maintenance schedule/start/update/end/cancel, a real vacuum, resume)
  runs only after a human confirms it through MCP elicitation (``@confirmed``): the operator types
  the orgcode, the vacuum-all confirmation phrase or the run's id, or answers a yes/no that shows
  what will happen (the text that becomes public, the start, the 503s); a model's arguments cannot
  stand in for it (the answer is a resolved parameter, never a tool argument). A client that
  cannot elicit is refused with the exact ``g3n ops`` command to run instead. The one exception,
  ``UNCONFIRMED_WRITES``: vacuum_cancel, which only stops deletion.
- The secret code comes from this server's environment (``G3N_OPS_SECRET_CODE``), read when a
  gated tool runs. It is never a tool parameter, so the model can neither see nor invent it. It is
  deliberately NOT elicited: MCP forbids form-mode elicitation of secrets (the answer passes
  through the client, and on protocol 2026-07-28 rides ``request_state`` back and forth), and
  this stdio server has no web page for URL-mode elicitation. The human gate is the confirmation.
- No tool description, schema or elicitation message contains the confirmation phrase or the
  secret: an agent that answers elicitations by itself must not find the answer there.
- No tool issues or returns an operator bypass token (``--bypass``, ``--rotate-bypass``). The
  token lets its holder through every affected service's 503, so it is for the human's hands
  only: a tool result goes to the model (and into its transcript, logs, other tools), and an
  elicitation message passes through the client just the same, so MCP has no channel that reaches
  only the human. The operator issues one in a terminal (``g3n ops maintenance-update
  --rotate-bypass`` once the window is active, or ``--bypass`` on schedule/start), where it is
  printed once. Tool results say only whether a window has a bypass (``bypass``), and any
  ``bypassToken`` is dropped from a result before it is sent (``success``).

Modules: ``tools`` (the server and its tools), ``confirmation`` (the elicitation gate),
``prompts`` (what each write asks), ``results`` (what a tool returns).
"""

from g3n_ops_client.mcp_server.confirmation import UNCONFIRMED_WRITES
from g3n_ops_client.mcp_server.results import success
from g3n_ops_client.mcp_server.tools import build_server

__all__ = ["UNCONFIRMED_WRITES", "build_server", "success"]
