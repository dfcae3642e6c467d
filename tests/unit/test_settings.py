"""``settings()``: the one reader of the environment, its defaults and bounds."""

from __future__ import annotations

import pytest

from g3n_ops.domain import purge
from g3n_ops.domain.vacuum import rounds
from g3n_ops.settings import ENVIRONMENT_NAMES, Settings, settings


@pytest.fixture
def clean(monkeypatch):
    """An environment without any of the settings' variables."""
    for name in ENVIRONMENT_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_a_changed_variable_is_seen_without_clearing_the_cache(clean):
    clean.setenv("VACUUM_CHUNK_ITEMS", "5")
    assert settings().vacuum_chunk_items == 5
    clean.setenv("VACUUM_CHUNK_ITEMS", "7")
    assert settings().vacuum_chunk_items == 7
    assert settings() is settings()


def test_without_its_variables_a_vacuum_chunk_has_the_deployed_limits(clean):
    assert purge.Limits.from_environment() == purge.Limits()
    assert rounds.history_budget() == rounds.HISTORY_BUDGET and rounds.concurrency() == 8


@pytest.mark.parametrize(
    ("variables", "field", "value"),
    [
        ({"VACUUM_CONCURRENCY": "0"}, "vacuum_concurrency", 1),
        ({"SECRET_LOCKOUT_THRESHOLD": "0"}, "secret_lockout_threshold", 1),
        ({"SECRET_LOCKOUT_WINDOW_SECONDS": "999999"}, "secret_lockout_window_seconds", 86_400),
        ({"VACUUM_MAINTENANCE_SECONDS": "1"}, "vacuum_maintenance_seconds", 60),
        ({"VACUUM_ALLOWED": "TRUE"}, "vacuum_allowed", True),
        ({"VACUUM_ALLOWED": "true", "OPS_STAGE": "prod"}, "vacuum_allowed", False),
        ({}, "vacuum_allowed", False),
        ({"VACUUM_CHUNK_SECONDS": "5"}, "vacuum_chunk_seconds", 5.0),
        ({}, "vacuum_chunk_seconds", None),
    ],
)
def test_values_are_bounded_and_vacuum_is_denied_by_default(clean, variables, field, value):
    for name, text in variables.items():
        clean.setenv(name, text)
    assert getattr(settings(), field) == value


def test_the_history_budget_never_passes_the_domain_bound(clean):
    clean.setenv("VACUUM_HISTORY_EVENTS", "50000")
    assert rounds.history_budget() == rounds.HISTORY_BUDGET
    clean.setenv("VACUUM_HISTORY_EVENTS", "300")
    assert rounds.history_budget() == 300


def test_what_a_stack_deploys_does_not_depend_on_the_shell_that_synthesises_it(clean):
    clean.setenv("VACUUM_ALLOWED", "true")
    clean.setenv("G3N_MAINTENANCE_GUARD_TTL_SECONDS", "1")
    given = Settings.given(stage="dev", table_name="ops")
    assert (given.vacuum_allowed, given.guard_ttl_seconds) == (False, 20)
    assert (settings().vacuum_allowed, settings().guard_ttl_seconds) == (True, 1)


def test_a_dotenv_file_in_the_working_directory_changes_nothing(clean, tmp_path):
    (tmp_path / ".env").write_text("VACUUM_ALLOWED=true\nOPS_STAGE=staging\n")
    clean.chdir(tmp_path)
    assert (settings().stage, settings().vacuum_allowed) == ("dev", False)


@pytest.mark.parametrize(("name", "text"), [("VACUUM_CONCURRENCY", "eight"), ("VACUUM_CHUNK_SECONDS", "")])
def test_a_malformed_variable_is_an_error_naming_it(clean, name, text):
    clean.setenv(name, text)
    with pytest.raises(ValueError, match=name):
        settings()
