"""The state names of both state machines follow one style (docs/architecture.md#state-machines):
sentence case, a question mark on a choice and only there."""

from __future__ import annotations

import json

import pytest

import workflows
from tests.support import asl_states


@pytest.mark.parametrize("asl_file", ["vacuum.asl.json", "maintenance-lifecycle.asl.json"])
def test_state_names_are_sentence_case_and_only_choices_ask(asl_file):
    states = asl_states(json.loads(workflows.read_asl(asl_file))["States"])
    for name, state in states.items():
        assert name[0].isupper() and name[1:] == name[1:].lower(), name
        assert name.endswith("?") == (state["Type"] == "Choice"), name
        assert "'" not in name and "  " not in name and name == name.strip(), name
