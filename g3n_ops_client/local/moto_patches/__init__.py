"""Patches to moto (pinned at 5.2.5 in pyproject.toml) that the local stack needs, each where
moto's behaviour differs from AWS or breaks under parallel executions, or where it does work no
answer needs; one is to botocore. They patch in place, once per process (each is idempotent).
Re-check each on an upgrade:

``stepfunctions``
- ``serialise_asl_parsing``        5.2.5: the ANTLR parser's shared DFA cache is not thread-safe
- ``remember_valid_definitions``   5.2.5: CreateStateMachine re-parses the whole ASL every time (speed)
- ``own_session_for_moto_clients`` 5.2.5: each Lambda task creates a client, on the shared default session
- ``stop_waits_for_the_program``   5.2.5: a StopExecution before the program runs is lost (HTTP 500)
- ``a_stop_is_final``              5.2.5: a StopExecution as a task starts ends it FAILED (States.Runtime)
- ``history_pages_as_asked``       5.2.5: GetExecutionHistory ignores maxResults, reverseOrder, nextToken
- ``json_paths_parsed_once``       5.2.5: each JSONPath is parsed, with a new parser, at every use (speed)

``dynamodb``
- ``plain_json_without_copies``    5.2.5: DynamoDB copies a nested value once per level to read it (speed)
- ``items_answered_as_json``       5.2.5: item answers walk the generic shape serializer (speed)
- ``items_copied_in_one_pass``     5.2.5: item copies go through deepcopy's memo per nested value (speed)
- ``projections_read_the_item_once`` 5.2.5: a projection renders the whole item once per path (speed)
- ``updates_answer_only_what_is_asked`` 5.2.5: UpdateItem copies and renders the item for no answer (speed)
- ``transactions_back_up_only_their_items`` 5.2.5: a transaction copies whole tables to roll back (speed)
- ``updates_copy_for_streams_only`` 5.2.5: UpdateItem copies the item for a stream the table lacks (speed)
- ``results_read_in_place``       5.2.5: Scan and Query copy every item they answer, to read it (speed)
- ``update_expressions_parsed_once`` 5.2.5: each UpdateItem parses its expression twice (speed)

``dispatch``
- ``remembering_hosts``            5.2.5: the dispatcher lists its package on every request (speed)
- ``action_names_listed_once``     5.2.5: each request lists its response class's members (speed)
- ``no_debug_subclass_per_request`` flask 3 (moto's apps run in debug): a class made per request (speed)
- ``one_model_loader``             botocore 1.44.8: each new Session reads the service models from disk
"""

from __future__ import annotations

from g3n_ops_client.local.moto_patches import dispatch, dynamodb, stepfunctions
from g3n_ops_client.local.moto_patches.dispatch import remembering_hosts

__all__ = ["install", "remembering_hosts"]


def install() -> None:
    stepfunctions.serialise_asl_parsing()
    stepfunctions.remember_valid_definitions()
    stepfunctions.own_session_for_moto_clients()
    stepfunctions.stop_waits_for_the_program()
    stepfunctions.a_stop_is_final()
    stepfunctions.history_pages_as_asked()
    stepfunctions.json_paths_parsed_once()
    dispatch.one_model_loader()
    dispatch.action_names_listed_once()
    dispatch.no_debug_subclass_per_request()
    dynamodb.plain_json_without_copies()
    dynamodb.items_answered_as_json()
    dynamodb.items_copied_in_one_pass()
    dynamodb.projections_read_the_item_once()
    dynamodb.updates_answer_only_what_is_asked()
    dynamodb.transactions_back_up_only_their_items()
    dynamodb.updates_copy_for_streams_only()
    dynamodb.results_read_in_place()
    dynamodb.update_expressions_parsed_once()
