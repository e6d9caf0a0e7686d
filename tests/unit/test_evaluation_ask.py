"""ask_all against a model that answers garbage, nothing, or fails: every question keeps a line, nothing is lost."""

from ft_pipeline.evaluation.ask import ask_all
from ft_pipeline.evaluation.sample import Question
from ft_pipeline.ports import ModelAnswer

LABELS = ["business", "science"]


class Garbage:
    def converse(self, model_id, prompt, system, max_tokens):
        if "boom" in prompt:
            raise TimeoutError("read timeout")
        text = {"q0": "", "q1": "\x00\x01 ¯\\_(ツ)_/¯ business science", "q2": '{"label": "Science"}'}[prompt]
        return ModelAnswer(text=text, latency_ms=5.0)


def test_garbage_empty_and_failed_answers_are_each_kept_and_counted_as_what_they_are():
    questions = [Question(index=i, test_line=i + 1, input=text, expected="science")
                 for i, text in enumerate(["q0", "q1", "q2", "boom"])]
    lines = ask_all(questions, {"tuned": "m"}, Garbage(), labels=LABELS, max_tokens=20, concurrency=3)
    answers = [line["models"]["tuned"] for line in lines]
    assert [line["index"] for line in lines] == [0, 1, 2, 3]
    assert [a["parsed"] for a in answers] == [None, None, "science", None]  # empty, ambiguous, JSON, failed
    assert answers[1]["raw"].startswith("\x00") and answers[3]["error"] == "TimeoutError: read timeout"
    assert answers[0]["error"] is None and answers[3]["raw"] is None
