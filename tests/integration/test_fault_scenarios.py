"""`make faults` itself: its scenarios cover the issue's fault list, and a sample of them runs to nothing alive."""

import pytest

from local_emulation.fault_scenarios import SCENARIOS, main, run_scenario

BY_NAME = {s.name: s for s in SCENARIOS}


def test_the_scenarios_cover_every_fault_a_deployment_must_survive():
    required = {"crash-after-create", "deadline-passed", "deployment-failed", "pt-quota-wait", "pt-quota-fail",
                "duplicate-events", "teardown-repeated", "evaluation-never-comes", "stop-during-deployment"}
    assert required <= set(BY_NAME)


@pytest.mark.parametrize("name", ["crash-after-create", "pt-quota-wait", "cost-ceiling"])
def test_a_scenario_ends_with_nothing_of_the_stack_alive(name):
    result = run_scenario(BY_NAME[name])
    assert result["alive"] == [] and result["created"] >= 1
    assert result["status"] in ("COMPLETED", "DEPLOYMENT_FAILED", "STOPPED")


def test_the_command_exits_zero_and_prints_a_row_per_scenario(capsys):
    assert main(["--scenario", "orphan"]) == 0
    out = capsys.readouterr().out
    assert "orphan" in out and "left alive: 0" in out
