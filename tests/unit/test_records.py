import pytest

from ft_pipeline.dataset.records import (
    InputFormat,
    RecordError,
    classify_json_record,
    csv_layout,
    parse_claude_messages,
    parse_conversation_2024,
    parse_csv_row,
    parse_prompt_completion,
    parse_text_label,
)


def conv(*turns, system=None):
    record = {"schemaVersion": "bedrock-conversation-2024",
              "messages": [{"role": r, "content": [{"text": t}]} for r, t in turns]}
    if system:
        record["system"] = [{"text": system}]
    return record


def test_each_supported_shape_is_recognised():
    assert classify_json_record(conv(("user", "a"), ("assistant", "b"))) is InputFormat.CONVERSATION_2024
    assert classify_json_record({"messages": [{"role": "user", "content": "a"}]}) is InputFormat.CLAUDE_MESSAGES
    assert classify_json_record({"prompt": "a", "completion": "b"}) is InputFormat.PROMPT_COMPLETION
    assert classify_json_record({"text": "a", "label": "b"}) is InputFormat.TEXT_LABEL


def test_unknown_shape_names_its_keys():
    with pytest.raises(RecordError, match="keys: 'answer', 'question'") as err:
        classify_json_record({"question": "q", "answer": "a"})
    assert err.value.code == "wrong-schema"


def test_conversation_keeps_system_and_turns():
    example = parse_conversation_2024(conv(("user", "hi"), ("assistant", "hello"), system="be brief"))
    assert example.system == "be brief"
    assert example.turns == (("user", "hi"), ("assistant", "hello"))


@pytest.mark.parametrize(
    ("record", "field", "code"),
    [
        (conv(("assistant", "a"), ("user", "b")), "messages[0].role", "roles"),
        (conv(("user", "a"), ("user", "b")), "messages[1].role", "roles"),
        (conv(("user", "a"), ("assistant", "b"), ("user", "c")), "messages[2].role", "roles"),
        (conv(("user", "a")), "messages", "roles"),
        (conv(("user", "  "), ("assistant", "b")), "messages[0].content[0].text", "empty-field"),
        ({"schemaVersion": "bedrock-conversation-2024", "messages": [{"role": "user", "content": [{"image": {}}]},
                                             {"role": "assistant", "content": [{"text": "b"}]}]},
         "messages[0].content[0]", "unsupported-content"),
        (conv(("user", "a"), ("assistant", "b")) | {"extra": 1}, "extra", "wrong-schema"),
    ],
)
def test_conversation_errors_name_the_field(record, field, code):
    with pytest.raises(RecordError) as err:
        parse_conversation_2024(record)
    assert err.value.field == field
    assert err.value.code == code


def test_claude_messages_need_alternating_string_content():
    ok = parse_claude_messages({"system": "s", "messages": [{"role": "user", "content": "a"},
                                                            {"role": "assistant", "content": "b"}]})
    assert ok.system == "s" and ok.turns[1] == ("assistant", "b")
    with pytest.raises(RecordError, match="messages\\[1\\].content is empty"):
        parse_claude_messages({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}]})


def test_prompt_completion_and_text_label_errors():
    with pytest.raises(RecordError, match="missing field 'completion'"):
        parse_prompt_completion({"prompt": "p"})
    with pytest.raises(RecordError) as err:
        parse_text_label({"text": "t", "label": ""})
    assert err.value.code == "missing-label"
    assert parse_text_label({"text": "t", "label": 3}).label == "3"


def test_csv_layout_recognises_common_headers_and_explicit_columns():
    assert csv_layout(["headline", "category"]).input_format is InputFormat.TEXT_LABEL
    assert csv_layout(["id", "Prompt", "Completion"]).input_format is InputFormat.PROMPT_COMPLETION
    layout = csv_layout(["body_text", "tag"], text="body_text", label="tag")
    assert (layout.first, layout.second) == (0, 1)
    with pytest.raises(ValueError, match="header \\('a', 'b'\\) has no text\\+label"):
        csv_layout(["a", "b"])
    with pytest.raises(ValueError, match="'nope' is not in the header"):
        csv_layout(["text", "label"], text="nope")


def test_csv_row_with_wrong_width_or_empty_label_is_rejected():
    layout = csv_layout(["text", "label"])
    with pytest.raises(RecordError, match="expected 2 fields"):
        parse_csv_row(["only one"], layout)
    with pytest.raises(RecordError) as err:
        parse_csv_row(["text", " "], layout)
    assert err.value.code == "missing-label"
