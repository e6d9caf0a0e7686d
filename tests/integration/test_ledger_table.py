"""The DynamoDB ledger adapter (moto): transitions by name, guards, the outbox's marks, the sweeper's queries."""

from datetime import timedelta

import pytest

from ft_pipeline.adapters.ledger_table import LedgerTable
from ft_pipeline.clock import iso
from ft_pipeline.contracts import ObjectRef, StepRetryRequested, StepRetryRequestedDetail
from ft_pipeline.lifecycle import RunState, UndeclaredTransition
from ft_pipeline.ports import UnreadableRecord
from ft_pipeline.run_record import Lease
from ft_pipeline.steps.outbox import new_event

SOURCE = ObjectRef(bucket="b", key="incoming/k.csv")


@pytest.fixture
def ledger(pipeline):
    return LedgerTable(pipeline.resource_name("LedgerTable"))


def lease(pipeline, owner, minutes=15, retries=0):
    return Lease(owner=owner, until=iso(pipeline.clock.now() + timedelta(minutes=minutes)), retries=retries)


def retry_event(run_id="r-1"):
    return new_event(StepRetryRequested, StepRetryRequestedDetail(run_id=run_id, source=SOURCE, step="validate",
                                                                  retry=1, reason="lapsed"))


def test_a_run_is_created_once_and_moves_only_along_declared_transitions(pipeline, ledger):
    first = ledger.apply("r-1", "validation_claimed", source=SOURCE, lease=lease(pipeline, "a"))
    assert first.status is RunState.VALIDATING and first.validation.outputs == {} and first.outbox == {}
    assert ledger.apply("r-1", "validation_claimed", source=SOURCE, lease=lease(pipeline, "b")) is None
    with pytest.raises(UndeclaredTransition):
        ledger.apply("r-1", "deployment_started")  # planned, not built: refused before any write
    with pytest.raises(UndeclaredTransition):
        ledger.apply("r-1", "made_up")
    # declared, but not from VALIDATING: refused by the write's condition, and nothing changes
    assert ledger.apply("r-1", "training_claimed", lease=lease(pipeline, "s")) is None
    assert ledger.get("r-1").status is RunState.VALIDATING


def test_the_lease_guards_who_may_finish_and_who_may_take_over(pipeline, ledger):
    held = ledger.apply("r-1", "validation_claimed", source=SOURCE, lease=lease(pipeline, "a")).lease
    stranger = held.model_copy(update={"owner": "b"})
    assert ledger.apply("r-1", "validation_released", lease=held, expected_lease=stranger) is None
    stale = held.model_copy(update={"until": iso(pipeline.clock.now())})
    assert ledger.apply("r-1", "validation_taken_over", lease=lease(pipeline, "c"), expected_lease=stale) is None
    taken = ledger.apply("r-1", "validation_taken_over", lease=lease(pipeline, "c"), expected_lease=held)
    assert taken.lease.owner == "c"
    assert [t.transition for t in taken.timeline] == ["validation_claimed", "validation_taken_over"]
    assert taken.state_since == taken.created_at  # a self-transition keeps the time the state was entered


def test_a_transition_cannot_touch_the_ledgers_own_attributes_or_emit_the_wrong_event(pipeline, ledger):
    ledger.apply("r-1", "validation_claimed", source=SOURCE, lease=lease(pipeline, "a"))
    held = ledger.get("r-1").lease
    for path in ("status", "outbox.x", "lease", "event_seq", "dataset_id"):
        with pytest.raises(ValueError, match="ledger's own"):
            ledger.apply("r-1", "validation_redriven", lease=held, expected_lease=held, event=retry_event(),
                         changes={path: "x"})
    with pytest.raises(ValueError, match="emits StepRetryRequested"):
        ledger.apply("r-1", "validation_redriven", lease=held, expected_lease=held)
    assert ledger.get("r-1").timeline[-1].transition == "validation_claimed"  # nothing was written


def test_an_event_waits_in_the_outbox_until_marked_and_the_index_lets_go_only_when_all_are_out(pipeline, ledger):
    held = ledger.apply("r-1", "validation_claimed", source=SOURCE, lease=lease(pipeline, "a")).lease
    moved = ledger.apply("r-1", "validation_redriven", lease=held.model_copy(update={"owner": "sweeper"}),
                         expected_lease=held, event=retry_event())
    (event,) = moved.pending_events()
    assert event.detail["event_id"] == f"r-1:{event.key}" and moved.event_seq == 1
    later = iso(pipeline.clock.now() + timedelta(minutes=5))
    assert list(ledger.runs_with_pending_events(later)) == ["r-1"]
    ledger.settle_outbox("r-1", event_seq=0)  # a newer event was recorded since: stays in the index
    assert list(ledger.runs_with_pending_events(later)) == ["r-1"]
    ledger.mark_delivered("r-1", event.key, "announced_at")
    ledger.mark_delivered("r-1", event.key, "announced_at")  # the first mark wins
    assert ledger.get("r-1").pending_events() == []
    ledger.settle_outbox("r-1", event_seq=1)
    assert list(ledger.runs_with_pending_events(later)) == []


def test_the_sweepers_query_reports_an_unreadable_item_instead_of_failing(pipeline, ledger):
    ledger.apply("r-1", "validation_claimed", source=SOURCE, lease=lease(pipeline, "a"))
    pipeline.client("dynamodb").put_item(TableName=ledger.table_name, Item={
        "dataset_id": {"S": "broken"}, "status": {"S": "VALIDATING"}, "updated_at": {"S": "2026-01-01T00:00:00.000Z"}})
    found = list(ledger.runs_in_state(RunState.VALIDATING))
    assert {type(f).__name__ for f in found} == {"RunRecord", "UnreadableRecord"}
    (broken,) = [f for f in found if isinstance(f, UnreadableRecord)]
    assert broken.run_id == "broken" and "created_at" in broken.error
