"""Property tests of the classification API through the real handler: whatever the client sends and whatever the
endpoint answers, the status is a documented one (never a 500: that is the catch-all's, i.e. a bug), the body is
JSON, and nothing the client sent (no string of 8 characters or more) is echoed back."""

import base64
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO
from tests.unit.test_classifier_proxy import DOCUMENTED, GOOD, Harness

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
ROUTES = [("POST", "/classify"), ("POST", "/classify/batch"), ("GET", "/health"), ("GET", "/model")]
# text the API may legitimately answer with: a client string found in it is no echo
STATIC = "".join(Path(REPO, p).read_text() for p in (
    "functions/classify_headline/app.py", "layers/common/python/ft_pipeline/headlines/service.py",
    "layers/common/python/ft_pipeline/headlines/api_models.py",
    "layers/common/python/ft_pipeline/adapters/sagemaker_endpoint.py"))

keys = st.one_of(st.sampled_from(["headline", "headlines"]), st.text(max_size=12), st.text(min_size=40, max_size=400))
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=40))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=6),
                                                            st.dictionaries(keys, inner, max_size=6)), max_leaves=20)
requests = st.one_of(
    st.fixed_dictionaries({"headline": st.text(max_size=60)}),
    st.fixed_dictionaries({"headlines": st.lists(st.text(max_size=30), max_size=8)}),
    st.dictionaries(keys, json_values, max_size=6),
    json_values,
)


@st.composite
def bodies(draw):
    """(the event's body, isBase64Encoded, the strings the client sent)"""
    kind = draw(st.sampled_from(["json", "json", "json", "text", "bytes64", "json64", "text64", "none", "big"]))
    if kind == "none":
        return None, draw(st.booleans()), []
    if kind == "big":
        return "x" * (256 * 1024 + 1), False, []
    if kind == "text":
        text = draw(st.text(max_size=200))
        return text, False, [text]
    if kind == "bytes64":
        return base64.b64encode(draw(st.binary(max_size=200))).decode(), True, []
    if kind == "text64":  # flagged base64 but most likely not
        text = draw(st.text(max_size=100))
        return text, True, [text]
    value = draw(requests)
    text = json.dumps(value)
    sent = [text, *_strings(value)]
    if kind == "json64":
        return base64.b64encode(text.encode()).decode(), True, sent
    return text, False, sent


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)


finite = st.floats(min_value=0, max_value=1)
predictions = st.fixed_dictionaries({"predicted_label": st.sampled_from(["health", "science", "", "x" * 10]),
                                     "probabilities": st.dictionaries(st.text(max_size=8),
                                                                      st.one_of(finite, st.floats(), scalars),
                                                                      max_size=4)})
answers = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    predictions.map(lambda p: json.dumps(p).encode()),
    st.lists(st.one_of(predictions, st.just(GOOD)), max_size=4).map(lambda ps: json.dumps(ps).encode()),
    st.just(json.dumps([GOOD]).encode()),
)


@pytest.fixture(scope="module")
def api():
    patch = pytest.MonkeyPatch()
    harness = Harness(patch)
    yield harness
    harness.close()
    patch.undo()


def _call(api, method, path, body, b64, content_type, answer=None, describe=None):
    api.module._service.cache_clear()  # no health cache between examples
    api.runtime.answers.clear()
    api.control.answers.clear()
    api.runtime.calls = api.control.calls = 0
    api.stream.seek(0)
    api.stream.truncate()
    if answer is not None:
        api.runtime.answer(answer)
    if describe is not None:
        api.control.answer(describe)
        api.control.answer(describe)
    return api.call(method, path, body, base64_encoded=b64, content_type=content_type)


def _no_nan(token):
    raise AssertionError(f"{token} in a JSON answer")


def check(api, reply, sent, answer=b""):
    assert reply.status != 500, reply.text
    assert reply.status in DOCUMENTED, reply.text
    document = json.loads(reply.text, parse_constant=_no_nan)  # JSON, and no NaN / Infinity
    if reply.status >= 400 and reply.status != 503 or "message" in document:
        assert isinstance(document["message"], str)
    model_text = answer.decode("utf-8", "replace") + json.dumps(json.loads(answer)) if _is_json(answer) else ""
    for text in sent:
        if len(text) >= 8 and text not in STATIC and text not in model_text and text not in json.dumps(GOOD):
            assert text not in reply.text, f"echoed {text!r}"
            assert json.dumps(text)[1:-1] not in reply.text, f"echoed {text!r}"
    assert not any(line["message"] == "unhandled error" for line in api.logs())


def _is_json(data):
    try:
        json.loads(data)
    except (ValueError, RecursionError):
        return False
    return True


@SETTINGS
@given(route=st.sampled_from(ROUTES), body=bodies(),
       content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", None]))
def test_any_request_gets_a_documented_status_and_no_echo(api, route, body, content_type):
    text, b64, sent = body
    reply = _call(api, *route, text, b64, content_type)
    check(api, reply, sent)


@SETTINGS
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
       path=st.one_of(st.sampled_from([p for _, p in ROUTES]), st.text(max_size=30).map(lambda s: "/" + s)),
       body=bodies(),
       content_type=st.sampled_from(["application/json", None, "text/plain", "application/x-www-form-urlencoded",
                                     "multipart/form-data; boundary=xyz", "application/xml"]))
def test_any_method_path_and_content_type_gets_a_documented_status(api, method, path, body, content_type):
    text, b64, sent = body
    reply = _call(api, method, path, text, b64, content_type)
    check(api, reply, sent + ([path] if len(path) > 1 else []))


@SETTINGS
@given(route=st.sampled_from(ROUTES[:2]), headlines=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=5),
       answer=answers)
def test_any_endpoint_answer_gets_a_documented_status_and_no_echo(api, route, headlines, answer):
    body = {"headline": headlines[0]} if route[1] == "/classify" else {"headlines": headlines}
    reply = _call(api, *route, json.dumps(body), False, "application/json", answer=answer)
    check(api, reply, [json.dumps(body), *headlines], answer)
    if reply.status == 200:
        document = json.loads(reply.text)
        for result in document.get("results", [document]):
            assert all(math.isfinite(v) for v in result["probabilities"].values())


@SETTINGS
@given(route=st.sampled_from(ROUTES[2:]), describe=st.one_of(st.binary(max_size=100),
                                                             json_values.map(lambda v: json.dumps(v).encode())))
def test_any_describe_endpoint_answer_gets_a_documented_status(api, route, describe):
    reply = _call(api, *route, None, False, None, describe=describe)
    check(api, reply, [])
    assert reply.status in (200, 503)
