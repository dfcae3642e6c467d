"""How each execution's history stays bounded, whatever the amount of data.

The state machine purges in rounds: each round is one Map over unfinished units, each iteration
running at most ``turns`` chunks. Before a round, the round step reads how many events this
execution has (the id of its latest history event) and sizes the round so that even its worst
case (every task retried ``RETRY_MAX_ATTEMPTS`` times) ends under ``HISTORY_BUDGET``, with
``RESERVE`` left for the closing steps. When not even one chunk of one unit fits, the run
continues as a new execution of the same record (continue-as-new), which starts from zero.
"""

from __future__ import annotations

from dataclasses import dataclass

from g3n_ops.settings import settings

HISTORY_BUDGET = 10_000  # events per execution (Step Functions' limit is 25,000)
RETRY_MAX_ATTEMPTS = 8  # the ASL's one retry policy (tests/unit checks they agree)
TASK_EVENTS = 5  # entered, scheduled, started, succeeded, exited
RETRY_EVENTS = 3  # each retry: failed, scheduled, started
CHOICE_EVENTS = 2  # entered, exited
WORST_TASK = TASK_EVENTS + RETRY_EVENTS * RETRY_MAX_ATTEMPTS
WORST_CHUNK = WORST_TASK + CHOICE_EVENTS  # the chunk task and its loop Choice
ITERATION_EVENTS = 4  # a Map iteration's start and end, and its final state's two events
ROUND_EVENTS = WORST_TASK + CHOICE_EVENTS + 4  # the round task, its Choice, the Map's own events
RESERVE = 4 * WORST_TASK + 4 * CHOICE_EVENTS + 8  # continue, or verify + finalise, or the fail path
MAX_TURNS = 500  # chunks per unit per round, at most


def history_budget() -> int:
    """``HISTORY_BUDGET``; the local stack's tests may lower it (``VACUUM_HISTORY_EVENTS``) to see
    continue-as-new happen in seconds. Never above it: 25,000 is Step Functions' hard limit."""
    return min(HISTORY_BUDGET, settings().vacuum_history_events)


def concurrency() -> int:
    """Units purged at once (the Map's MaxConcurrency): deploy-time ``VACUUM_CONCURRENCY`` (8 by
    default: each unit has up to 8 parallel writes, an on-demand table's pace)."""
    return settings().vacuum_concurrency


def verify_turn_fits(events_so_far: int, *, budget: int = HISTORY_BUDGET) -> bool:
    """Whether one more verify chunk (its task at worst, its Choice) fits with ``RESERVE`` left."""
    return events_so_far + WORST_CHUNK + RESERVE <= budget


@dataclass(frozen=True)
class Round:
    units: list[str]
    turns: int


def next_round(events_so_far: int, unfinished: list[str], *, budget: int = HISTORY_BUDGET) -> Round | None:
    """The largest round whose worst case still fits in ``budget``; None: continue as new."""
    available = budget - RESERVE - ROUND_EVENTS - events_so_far
    count = min(len(unfinished), available // (ITERATION_EVENTS + WORST_CHUNK))
    if count < 1:
        return None
    turns = min(MAX_TURNS, (available - count * ITERATION_EVENTS) // (count * WORST_CHUNK))
    return Round(units=unfinished[:count], turns=turns)
