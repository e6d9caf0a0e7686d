"""The sweeper's gauges come out as CloudWatch EMF with the dimensions the template's alarms watch."""

import json

from ft_pipeline.observability import NAMESPACE, SERVICE, record_gauge


def test_a_gauge_is_one_emf_document_with_its_own_dimensions(capsys):
    record_gauge("RunsWaiting", 3, "Count", state="TRAINING")
    record_gauge("RunsStuck", 0, "Count")
    per_state, total = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert per_state["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE
    assert per_state["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "state"]]
    assert (per_state["service"], per_state["state"], per_state["RunsWaiting"]) == (SERVICE, "TRAINING", [3.0])
    assert total["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]  # what the alarm matches
