"""`make serve`'s world: the bundled dataset's run shown by the runs API, and a dataset submitted through the
command-line tool running to its report by itself (the emulated clock and Bedrock move on in the background)."""

import json
import threading
import urllib.request

from ft_pipeline_cli.main import main as cli
from local_emulation import serve
from tests.conftest import HEADLINES


def test_a_submitted_dataset_runs_to_completion_on_its_own(pipeline, monkeypatch, tmp_path, capsys):
    bundled = serve.run_bundled_dataset(pipeline, (HEADLINES / "validation.csv").read_bytes())
    assert bundled["status"] == "COMPLETED"
    monkeypatch.setattr(serve, "STEP_SECONDS", 0.05)
    lock, stop = threading.RLock(), threading.Event()
    api = pipeline.serve_api(auto_run=True, lock=lock)
    mover = threading.Thread(target=serve.move_on, args=(pipeline, lock, stop), daemon=True)
    mover.start()
    try:
        with urllib.request.urlopen(f"{api.url}/runs") as answer:
            assert [r["run_id"] for r in json.loads(answer.read())["runs"]] == [bundled["run_id"]]
        data = tmp_path / "more-news.csv"
        data.write_bytes((HEADLINES / "validation.csv").read_bytes())
        options = tmp_path / "options.json"
        options.write_text(json.dumps({"allow_repeat": True}))  # the same headlines as the bundled run
        capsys.readouterr()
        assert cli(["--url", api.url, "submit", str(data), "--options", str(options), "--wait",
                    "--interval", "0.1"]) == 0
        printed = capsys.readouterr().out
        assert "COMPLETED" in printed
    finally:
        stop.set()
        mover.join(timeout=10)
        api.stop()
    runs = {r["source"]["key"]: r for r in pipeline.ledger()}
    (submitted,) = [r for key, r in runs.items() if key.endswith("/more-news.csv")]
    assert submitted["status"] == "COMPLETED" and submitted["evaluation"]["report_html_uri"]
    assert pipeline.bedrock.serving.alive() == []  # torn down by itself too
