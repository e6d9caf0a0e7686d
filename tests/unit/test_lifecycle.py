"""The lifecycle table is complete and consistent: every waiting state is owned, every event exists."""

import pytest

from ft_pipeline import lifecycle
from ft_pipeline.contracts import EMITTED_EVENTS, BedrockJobStateChange, S3ObjectCreatedEvent
from ft_pipeline.lifecycle import INITIAL, TRANSITIONS, WAITS, Guard, LeaseChange, RunState, UndeclaredTransition
from ft_pipeline.steps.sweep import SWEEPERS

AWS_EVENTS = {S3ObjectCreatedEvent.DETAIL_TYPE, BedrockJobStateChange.DETAIL_TYPE}


def test_every_non_terminal_state_has_an_event_trigger_or_a_sweeper_owner():
    non_terminal = lifecycle.reachable_states() - lifecycle.terminal_states()
    assert non_terminal  # the table is not empty
    for state in non_terminal:
        wait = WAITS.get(state)
        assert wait is not None, f"{state} is not terminal but nothing says what it waits on"
        assert wait.triggers or wait.swept, f"{state} waits for nothing that could ever move it"


def test_every_swept_state_has_an_owner_in_the_sweeper_and_no_owner_is_idle():
    assert set(SWEEPERS) == {state for state, wait in WAITS.items() if wait.swept}
    assert set(WAITS) <= lifecycle.reachable_states()


def test_every_event_a_transition_emits_is_a_contract_the_pipeline_publishes():
    for t in lifecycle.implemented():
        if t.event is not None:
            assert t.event in EMITTED_EVENTS, f"{t.name} emits {t.event}, which no contract model describes"
    emitted = {t.event for t in lifecycle.implemented() if t.event}
    assert emitted == set(EMITTED_EVENTS), "an event contract that no transition emits"


def test_every_trigger_is_an_event_someone_sends():
    for state, wait in WAITS.items():
        for trigger in wait.triggers:
            assert trigger in EMITTED_EVENTS or trigger in AWS_EVENTS, (state, trigger)


def test_waits_on_our_own_steps_hold_a_lease_and_the_sweeper_can_retry_them():
    leased = {t.target for t in lifecycle.implemented() if t.lease is LeaseChange.TAKE}
    for state in leased:
        assert WAITS[state].retry_after is not None, f"{state} is leased but has no retry period"
    # a lease also carries into a state reached from a leased one by a transition that keeps it (a stop mid-start)
    carried = {t.target for t in lifecycle.implemented() if t.lease is LeaseChange.KEEP and t.sources & leased}
    for t in lifecycle.implemented():
        if t.guard is Guard.TAKEOVER:
            assert set(t.sources) <= leased | carried, f"{t.name} takes over a lease in a state that has none"


def test_transitions_that_create_a_run_have_no_other_source():
    for t in TRANSITIONS.values():
        if INITIAL in t.sources:
            assert t.sources == {INITIAL}, t.name


def test_undeclared_and_planned_transitions_are_refused(monkeypatch):
    with pytest.raises(UndeclaredTransition, match="no transition named"):
        lifecycle.transition("training_teleported")
    planned = lifecycle.Transition("model_teleported", frozenset({RunState.IMPORTED}), RunState.COMPLETED,
                                   lifecycle.Step.IMPORT, planned=True)
    monkeypatch.setitem(TRANSITIONS, planned.name, planned)
    with pytest.raises(UndeclaredTransition, match="planned"):
        lifecycle.transition("model_teleported")
    assert planned not in lifecycle.implemented()
    assert lifecycle.transition("training_started").target is RunState.TRAINING


def test_terminal_states_are_the_ends_a_user_expects_today():
    assert lifecycle.terminal_states() == {RunState.REJECTED, RunState.TRAINING_FAILED, RunState.TRAINING_STOPPED,
                                           RunState.DEPLOYMENT_FAILED, RunState.EVALUATION_FAILED, RunState.COMPLETED,
                                           RunState.STOPPED, RunState.IMPORT_FAILED}


def test_the_readme_shows_the_lifecycle_as_the_table_declares_it():
    from tools.make_state_diagram import README, render

    text = README.read_text()
    assert render(text) == text, "README's lifecycle drifted: run `make state-diagram`"
