"""A human confirms every write, through MCP elicitation (``@confirmed``)."""

from __future__ import annotations

import functools
import inspect
import shlex
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from mcp.server.elicitation import AcceptedElicitation, ElicitationResult
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.resolve import Elicit, Resolve
from mcp_types import CallToolResult
from pydantic import BaseModel, Field

from g3n_ops_client.errors import OpsClientError
from g3n_ops_client.mcp_server.results import failure

# -- a human confirms every write (MCP elicitation) ---------------------------------------------
# The writes that run without asking, and why. Every other tool that is not read-only is
# ``@confirmed`` (tests/e2e/test_mcp.py derives the list from the registered tools).
UNCONFIRMED_WRITES = frozenset(
    {
        "vacuum_cancel",  # only makes things safer: stops a vacuum before (or while) it deletes
    }
)
Arguments = dict[str, Any]
# The tool parameter a confirmed tool declares to receive what the operator typed (never exposed).
OPERATOR_TYPED = "typed_by_operator"
NOT_NEEDED = "not-needed"  # this call needs no confirmation (e.g. a vacuum-org dry-run)
CANNOT_ELICIT = "cannot-elicit"  # the client declared no (form) elicitation support


class TypedAnswer(BaseModel):
    """The form for a typed confirmation: the operator types the value the prompt asks for."""

    typed: str = Field(
        title="Type to confirm", max_length=200, description="Typed exactly; anything else runs nothing."
    )


class YesNoAnswer(BaseModel):
    confirm: bool = Field(title="Go ahead", description="Only true runs the operation.")


@dataclass(frozen=True)
class Confirmation:
    """What a human confirms before a tool runs, each part built from the tool's arguments.

    ``prompt`` never contains ``expected`` (an agent answering for the human must not find it
    there) nor the secret code, and shows what will happen; it also receives what the tool's
    ``lookup`` found (e.g. the window a start acts on). ``expected`` is None for a yes/no; ``cli``
    is the equivalent command, offered to a client that cannot elicit; ``needed`` says whether
    this call needs it (a dry-run does not).
    """

    prompt: Callable[[Arguments], str]
    cli: Callable[[Arguments], str]
    expected: Callable[[Arguments], str] | None = None
    needed: Callable[[Arguments], bool] = lambda arguments: True


def quoted(text: object, limit: int = 200) -> str:
    return shlex.quote(str(text)[:limit])


def _refusal(confirmation: Confirmation, outcome: object, arguments: Arguments) -> OpsClientError | None:
    """None when the human confirmed (or no confirmation is needed), else why nothing runs."""
    if not isinstance(outcome, AcceptedElicitation):
        return OpsClientError(
            "confirmation-declined", "the operator declined the confirmation; nothing was done"
        )
    answer = outcome.data
    if answer == NOT_NEEDED:
        return None
    if answer == CANNOT_ELICIT:
        return OpsClientError(
            "confirmation-unavailable",
            "this operation needs a person to confirm it, and this MCP client cannot ask one "
            "(no elicitation support); nothing was done. Run it from a terminal: "
            + confirmation.cli(arguments),
        )
    if confirmation.expected is None:
        if isinstance(answer, YesNoAnswer) and answer.confirm:
            return None
        return OpsClientError("confirmation-declined", "the operator did not confirm; nothing was done")
    if isinstance(answer, TypedAnswer) and answer.typed == confirmation.expected(arguments):
        return None
    return OpsClientError(
        "confirmation-mismatch",
        "what the operator typed does not match what this operation acts on; nothing was done",
    )


def confirmed(
    confirmation: Confirmation, *, lookup: Callable[[Arguments], Arguments] | None = None
) -> Callable[[Callable[..., CallToolResult]], Callable[..., CallToolResult]]:
    """Make a tool ask a human first (apply below ``@tool``). One line per write tool.

    The answer arrives through a resolved parameter (``Resolve``): the SDK fills it by eliciting
    from the client (a server-to-client request, or ``InputRequiredResult`` on protocol
    2026-07-28), never from the model's arguments, and it is absent from the input schema. A tool
    that declares ``typed_by_operator`` receives the confirmed text (e.g. the phrase). ``lookup``
    (a read, no secret) adds what the prompt shows besides the arguments; it runs only when the
    human is about to be asked.
    """

    def decorate(function: Callable[..., CallToolResult]) -> Callable[..., CallToolResult]:
        # Annotations evaluated now: an explicit __signature__ is read as is, strings unresolved.
        hints = typing.get_type_hints(function, include_extras=True)
        signature = inspect.signature(function)
        exposed = [
            parameter.replace(annotation=hints.get(name, parameter.annotation))
            for name, parameter in signature.parameters.items()
            if name != OPERATOR_TYPED
        ]
        wants_typed = OPERATOR_TYPED in signature.parameters

        def ask(ctx: Context, **arguments: Any) -> Any:
            if not confirmation.needed(arguments):
                return NOT_NEEDED
            capabilities = ctx.client_capabilities
            elicitation = capabilities.elicitation if capabilities is not None else None
            # A bare ``elicitation: {}`` means form support; url-only does not (the SDK's rule).
            if elicitation is None or (elicitation.form is None and elicitation.url is not None):
                return CANNOT_ELICIT
            schema = YesNoAnswer if confirmation.expected is None else TypedAnswer
            shown = {**arguments, **lookup(arguments)} if lookup else arguments
            return Elicit(confirmation.prompt(shown), schema)

        keyword = inspect.Parameter.KEYWORD_ONLY
        ask.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter("ctx", keyword, annotation=Context)]
            + [inspect.Parameter(parameter.name, keyword) for parameter in exposed]
        )
        ask.__annotations__ = {"ctx": Context}
        ask.__qualname__ = f"confirm_{function.__name__}"

        @functools.wraps(function)
        def run(*, human: Any, **arguments: Any) -> CallToolResult:
            refusal = _refusal(confirmation, human, arguments)
            if refusal is not None:
                return failure(refusal)
            if wants_typed and isinstance(human.data, TypedAnswer):
                arguments[OPERATOR_TYPED] = human.data.typed
            return function(**arguments)

        answer = Annotated[ElicitationResult[BaseModel], Resolve(ask)]
        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*exposed, inspect.Parameter("human", keyword, annotation=answer)],
            return_annotation=hints.get("return", signature.return_annotation),
        )
        run.__annotations__ = {
            **{name: hint for name, hint in hints.items() if name != OPERATOR_TYPED},
            "human": answer,
        }
        del run.__wrapped__  # the SDK must read this signature, not the wrapped one
        return run

    return decorate
