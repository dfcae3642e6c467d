"""The state machine diagrams in docs/architecture.md are generated from the ASL and kept current."""

from __future__ import annotations

from tools.render_diagrams import (
    COMMAND,
    DOCUMENT,
    Machine,
    condition,
    load_machines,
    render_document,
    render_mermaid,
)

LAMBDA = "arn:aws:states:::lambda:invoke"
STEPS = "${VacuumStepsFunctionArn}"

# Small, but with each construct the renderer must handle: Choice (compound rule + Default),
# Wait, Map with a loop inside, Catch, Retry, Parallel, Succeed and Fail.
SAMPLE = {
    "StartAt": "Admit the run",
    "States": {
        "Admit the run": {
            "Type": "Task",
            "Resource": LAMBDA,
            "Parameters": {"FunctionName": STEPS, "Payload": {"step": "admit", "vacuumId.$": "$.vacuumId"}},
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "MaxAttempts": 3}],
            "Catch": [
                {"ErrorEquals": ["VacuumCancelled"], "Next": "Cancelled"},
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Vacuum failed"},
            ],
            "Next": "Dry run?",
        },
        "Dry run?": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.dryRun", "BooleanEquals": True, "Next": "Purge tables"},
                {
                    "And": [
                        {"Variable": "$.status", "StringEquals": "pending"},
                        {"Not": {"Variable": "$.count", "NumericGreaterThanPath": "$.limit"}},
                    ],
                    "Next": "Wait the pending window",
                },
            ],
            "Default": "Vacuum failed",
        },
        "Wait the pending window": {
            "Type": "Wait",
            "SecondsPath": "$.pendingSeconds",
            "Next": "Purge tables",
        },
        "Purge tables": {
            "Type": "Map",
            "ItemsPath": "$.tables",
            "MaxConcurrency": 4,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Purge a chunk",
                "States": {
                    "Purge a chunk": {
                        "Type": "Task",
                        "Resource": LAMBDA,
                        "Parameters": {"FunctionName": STEPS, "Payload": {"step": "purge"}},
                        "Next": "More?",
                    },
                    "More?": {
                        "Type": "Choice",
                        "Choices": [{"Variable": "$.more", "BooleanEquals": True, "Next": "Purge a chunk"}],
                        "Default": "Table done",
                    },
                    "Table done": {"Type": "Succeed"},
                },
            },
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Vacuum failed"}],
            "Next": "Buckets and logs",
        },
        "Buckets and logs": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Buckets", "States": {"Buckets": {"Type": "Pass", "End": True}}},
                {"StartAt": "Logs", "States": {"Logs": {"Type": "Pass", "End": True}}},
            ],
            "End": True,
        },
        "Cancelled": {"Type": "Succeed"},
        "Vacuum failed": {"Type": "Fail", "Error": "VacuumFailed"},
    },
}


def test_renders_every_state_edge_and_nesting():
    lines = render_mermaid(SAMPLE).splitlines()
    assert lines[0] == "stateDiagram-v2"
    expected = [
        "    [*] --> AdmitTheRun",
        '    state "Admit the run" as AdmitTheRun',
        "    AdmitTheRun : Task: Lambda VacuumSteps (admit)",
        "    AdmitTheRun : retry on Lambda.TooManyRequestsException",
        # Catch edges, labelled with what they catch
        "    AdmitTheRun --> Cancelled : catch VacuumCancelled",
        "    AdmitTheRun --> VacuumFailed : catch States.ALL",
        # Choice rules summarised on their edges, Default as "otherwise"
        "    DryRun --> PurgeTables : $.dryRun == true",
        "    DryRun --> WaitThePendingWindow : $.status == 'pending' and not ($.count > $.limit)",
        "    DryRun --> VacuumFailed : otherwise",
        "    WaitThePendingWindow : Wait $.pendingSeconds seconds",
        # the Map iterator is a composite state with its own start, loop and end
        '    state "Purge tables · Map over $.tables, at most 4 at a time" as PurgeTables',
        "    state PurgeTables {",
        "        [*] --> PurgeAChunk",
        "        More --> PurgeAChunk : $.more == true",
        "        TableDone --> [*]",
        "    PurgeTables --> VacuumFailed : catch States.ALL",
        # Parallel branches separated inside their composite
        "        --",
        "    BucketsAndLogs --> [*]",
        # Succeed/Fail end the run, in their own styles
        "    VacuumFailed : Fail: VacuumFailed",
        "    VacuumFailed --> [*]",
        "    class DryRun choice",
        "    class WaitThePendingWindow wait",
        "    class TableDone succeed",
        "    class VacuumFailed fail",
    ]
    missing = [line for line in expected if line not in lines]
    assert not missing, "\n".join(missing)
    # Every state is declared exactly once, nested ones included.
    declared = [line.strip() for line in lines if line.strip().startswith('state "')]
    assert len(declared) == 12


def test_condition_summaries():
    assert condition({"Variable": "$.x", "IsPresent": False}) == "$.x is not present"
    assert condition({"Variable": "$.t", "TimestampLessThanEqualsPath": "$.now"}) == "$.t <= $.now"
    assert (
        condition(
            {
                "Or": [
                    {"Variable": "$.s", "StringEquals": "ended"},
                    {"And": [{"Variable": "$.a", "IsNull": True}, {"Variable": "$.n", "NumericEquals": 0}]},
                ]
            }
        )
        == '$.s == "ended" or ($.a is null and $.n == 0)'
    )


def test_document_keeps_prose_and_replaces_only_generated_sections():
    machine = Machine(name="vacuum", source="workflows/vacuum.asl.json", definition=SAMPLE)
    created = render_document(None, [machine])
    assert created.startswith("# Architecture\n")
    assert "<!-- BEGIN GENERATED: vacuum -->" in created and "<!-- END GENERATED: vacuum -->" in created

    edited = created.replace("# Architecture\n", "# Architecture\n\nProse an engineer wrote.\n")
    stale = edited.replace("AdmitTheRun --> DryRun", "AdmitTheRun --> Somewhere")
    assert render_document(stale, [machine]) == edited  # prose kept, diagram restored
    assert render_document(edited, [machine]) == edited  # idempotent

    gone = render_document(edited, [])  # the ASL file was removed: its section goes too
    assert "GENERATED: vacuum" not in gone and "Prose an engineer wrote." in gone


def test_committed_diagrams_match_the_asl_files():
    machines = load_machines()
    assert machines, "no workflows/*.asl.json found"
    current = DOCUMENT.read_text() if DOCUMENT.exists() else None
    assert current == render_document(current, machines), (
        f"docs/architecture.md is stale (a workflows/*.asl.json changed): regenerate it with `{COMMAND}`"
    )
