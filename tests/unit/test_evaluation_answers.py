import pytest

from ft_pipeline.evaluation.answers import INVALID, MAX_SENTENCE_WORDS, parse_answer, parse_free_text

LABELS = ["business", "science", "health", "computer science", "sci-fi", "World News", "Sports"]
FENCE = "```"


def test_invalid_is_the_name_of_the_unreadable_column():
    assert INVALID == "invalid"


@pytest.mark.parametrize("raw", [None, "", "   ", "\n\t"])
def test_nothing_is_no_answer(raw):
    assert parse_answer(raw, LABELS) is None


def test_no_labels_means_no_answer():
    assert parse_answer("business", []) is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("business", "business"),
    ("computer science", "computer science"),
    ("sci-fi", "sci-fi"),
    ("World News", "World News"),
])
def test_the_exact_label(raw, expected):
    assert parse_answer(raw, LABELS) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("  Business. ", "business"),
    ("BUSINESS", "business"),
    ("business\n", "business"),
    ("'science'", "science"),
    ('"Health"', "health"),
    ("**Health**", "health"),
    ("`sci-fi`", "sci-fi"),
    ("Sci-Fi!", "sci-fi"),
    ("world news", "World News"),
    ("World   News.", "World News"),
    ("sports", "Sports"),
    ("\u201cSports\u201d", "Sports"),
    ('["science"]', "science"),
])
def test_case_spacing_and_surrounding_punctuation(raw, expected):
    assert parse_answer(raw, LABELS) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ('{"label": "science"}', "science"),
    ('{"category": "Health"}', "health"),
    ('{"class": "business"}', "business"),
    ('{"answer": "world news"}', "World News"),
    ('{"topic": "sci-fi"}', "sci-fi"),
    ('{"LABEL": "science"}', "science"),
    ('{" Category ": "science"}', "science"),
    ('{"prediction": "science"}', "science"),  # a single value, whatever its key
    ('{"label": "science", "confidence": 0.92, "reason": "mentions health"}', "science"),
    ('{"label": "science", "category": "Science"}', "science"),  # two keys that agree
    ('{"result": {"label": "health"}}', "health"),
    ('{"label": ["health"]}', "health"),
    ('{"label": "The answer is health."}', "health"),
    ('Sure! Here it is: {"label": "business"} Hope that helps.', "business"),
    ('  {\n  "label": "Sports"\n}\n', "Sports"),
])
def test_a_json_object(raw, expected):
    assert parse_answer(raw, LABELS) == expected


def test_a_json_number_is_read_as_a_numeric_label():
    assert parse_answer('{"rating": 4}', ["1", "2", "3", "4", "5"]) == "4"
    assert parse_answer('{"label": true}', ["true", "false"]) is None


@pytest.mark.parametrize("raw", [
    '{"label": "politics"}',  # not a label
    '{"label": "science", "category": "health"}',  # two answers that disagree
    '{"confidence": 0.9, "reason": "business"}',  # no answer key, several values
    '{"label": ["science", "health"]}',
    '{"label": null}',
    '{"label": "science"} {"label": "health"}',
    "{}",
])
def test_json_that_does_not_give_one_label(raw):
    assert parse_answer(raw, LABELS) is None


@pytest.mark.parametrize(("raw", "expected"), [
    (f"{FENCE}json\n{{\"label\": \"science\"}}\n{FENCE}", "science"),
    (f"{FENCE}JSON\n{{\"Category\": \"health\"}}\n{FENCE}", "health"),
    (f"{FENCE}\n{{\"label\": \"science\"}}\n{FENCE}", "science"),
    (f"{FENCE}json {{\"label\": \"science\"}}{FENCE}", "science"),
    (f"{FENCE}\nbusiness\n{FENCE}", "business"),
    (f"{FENCE}business{FENCE}", "business"),
    (f"{FENCE}text\nWorld News\n{FENCE}", "World News"),
    (f"{FENCE}\nThe category is health.\n{FENCE}", "health"),
    (f"Here is my answer:\n{FENCE}json\n{{\"label\": \"sci-fi\"}}\n{FENCE}", "sci-fi"),
    (f"{FENCE}json\n{{\"label\": \"science\"}}", "science"),  # cut off before the closing fence
    # a fence makes a long reply readable
    ("I considered many options. " * 10 + f"\n{FENCE}json\n{{\"label\": \"health\"}}\n{FENCE}", "health"),
])
def test_a_fenced_code_block(raw, expected):
    assert parse_answer(raw, LABELS) == expected


@pytest.mark.parametrize("raw", [
    f"{FENCE}json\n{{\"label\": \"politics\"}}\n{FENCE}",
    f"{FENCE}\nscience or health\n{FENCE}",
    f"{FENCE}\nscience\n{FENCE} and {FENCE}\nhealth\n{FENCE}",
    # the fence decides: a label outside an unreadable fence does not count
    f"The answer is science.\n{FENCE}\nunsure\n{FENCE}",
    f"{FENCE}{FENCE}",
])
def test_a_fenced_block_that_does_not_give_one_label(raw):
    assert parse_answer(raw, LABELS) is None


@pytest.mark.parametrize(("raw", "expected"), [
    ("The category is Health.", "health"),
    ("Answer: business", "business"),
    ("Label - Science", "science"),
    ("I would classify this as computer science.", "computer science"),
    ("This headline belongs to world news.", "World News"),
    ("This headline belongs to world\nnews.", "World News"),
    ("It is clearly sci-fi, no doubt.", "sci-fi"),
    ("Category: SPORTS", "Sports"),
    ("The science behind science: it is science.", "science"),  # one label, named three times
])
def test_one_label_inside_a_short_sentence(raw, expected):
    assert parse_answer(raw, LABELS) == expected


@pytest.mark.parametrize("raw", [
    "It is either business or science.",
    "Not health, but sports.",
    "Computer science and health.",
    "I cannot tell.",
    "scientific research",  # not a whole word
    "businesses",
    "non-science reading",  # a hyphen joins words
    "sci",  # a piece of a label
    "fi",
])
def test_a_sentence_without_exactly_one_label(raw):
    assert parse_answer(raw, LABELS) is None


def test_a_label_inside_a_longer_label_is_not_a_second_mention():
    labels = ["science", "computer science", "fi", "sci-fi"]
    assert parse_answer("The topic is computer science.", labels) == "computer science"
    assert parse_answer("The topic is sci-fi.", labels) == "sci-fi"
    assert parse_answer("The topic is science.", labels) == "science"
    assert parse_answer("Computer science, or just science?", labels) is None


def test_labels_that_overlap_in_part_are_ambiguous():
    assert parse_answer("it is new york city", ["new york", "york city"]) is None


def test_the_sentence_rule_stops_at_thirty_words():
    filler = "word " * (MAX_SENTENCE_WORDS - 2)
    short = f"{filler}is health."
    assert len(short.split()) == MAX_SENTENCE_WORDS
    assert parse_answer(short, LABELS) == "health"
    long = f"{filler}really is health."
    assert len(long.split()) == MAX_SENTENCE_WORDS + 1
    assert parse_answer(long, LABELS) is None


def test_long_rambling_text_is_unreadable_unless_structured():
    ramble = "Let me think about this headline carefully, weighing every consideration. " * 4
    assert parse_answer(ramble + "The answer is health.", LABELS) is None
    assert parse_answer(ramble + '{"label": "health"}', LABELS) == "health"


def test_labels_are_returned_as_spelled_in_the_label_list():
    labels = ["Positive", "Negative", "Neutral"]
    assert parse_answer("positive", labels) == "Positive"
    assert parse_answer('{"sentiment": "NEGATIVE"}', labels) == "Negative"
    assert parse_answer("The sentiment is neutral.", labels) == "Neutral"


def test_regex_characters_in_labels_are_literal():
    labels = ["c++", "c", "a.b"]
    assert parse_answer("The language is C++.", labels) == "c++"
    assert parse_answer("The answer is a.b", labels) == "a.b"
    assert parse_answer("The answer is axb", labels) is None


@pytest.mark.parametrize(("raw", "expected"), [
    (None, None),
    ("", None),
    ("   \n", None),
    ("  Paris is the capital.  ", "Paris is the capital."),
    (f"{FENCE}\nParis\n{FENCE}", "Paris"),
    (f"{FENCE}text\nParis\n{FENCE}", "Paris"),
    (f"{FENCE}Paris{FENCE}", "Paris"),
    (f"{FENCE}Paris\n{FENCE}", "Paris"),
    (f"  {FENCE}python\nprint(1)\nprint(2)\n{FENCE}  ", "print(1)\nprint(2)"),
    (f"{FENCE}json\n{{\"a\": 1}}", '{"a": 1}'),  # cut off before the closing fence
    (f"{FENCE}\n\n{FENCE}", None),
    # a fence inside the text, or two fences, are content, not a wrapper
    (f"Run {FENCE}ls{FENCE} first", f"Run {FENCE}ls{FENCE} first"),
    (f"{FENCE}a{FENCE} then {FENCE}b{FENCE}", f"{FENCE}a{FENCE} then {FENCE}b{FENCE}"),
    ("line one\nline two", "line one\nline two"),
])
def test_parse_free_text(raw, expected):
    assert parse_free_text(raw) == expected
