from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.errors import InvalidInput
from server.core.text import SensitiveWords, clean_question_text, clean_user_text


def refused(s: str, **kwargs: int) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        clean_question_text(s, **kwargs)
    return info.value


# --- clean_question_text ----------------------------------------------------------------------


def test_surrounding_whitespace_is_stripped_and_inner_newlines_kept() -> None:
    assert clean_question_text("  \t 第一行\n第二行 \n ") == "第一行\n第二行"


def test_windows_line_endings_become_newlines() -> None:
    assert clean_question_text("a\r\nb\rc") == "a\nb\nc"


def test_empty_or_blank_question_is_refused() -> None:
    assert refused("").code == "question.empty"
    assert refused(" \n\t ").code == "question.empty"
    assert refused("\u200b\ufeff").code == "question.empty"


def test_too_long_counts_characters_after_stripping() -> None:
    assert clean_question_text("  " + "问" * 500 + "  ") == "问" * 500
    error = refused("问" * 501)
    assert error.code == "question.too_long"
    assert error.details == {"max_len": 500, "length": 501}


def test_max_len_is_configurable() -> None:
    assert clean_question_text("abcde", max_len=5) == "abcde"
    assert refused("abcdef", max_len=5).code == "question.too_long"


def test_zero_width_characters_are_stripped() -> None:
    assert clean_question_text("干\u200b部\u200c培\u200d训\u2060学\ufeff时") == "干部培训学时"


@pytest.mark.parametrize(
    "ch", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2069"]
)
def test_bidi_override_characters_are_refused(ch: str) -> None:
    error = refused(f"abc{ch}def")
    assert error.code == "question.bad_characters"
    assert error.details == {"characters": [f"U+{ord(ch):04X}"]}


@pytest.mark.parametrize("ch", ["\x00", "\x07", "\t", "\x1b", "\x7f", "\x85"])
def test_control_characters_inside_the_text_are_refused(ch: str) -> None:
    assert refused(f"abc{ch}def").code == "question.bad_characters"


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        '<img src=x onerror="alert(1)">',
        "javascript:alert(document.cookie)",
        "a < b && c > d",
    ],
)
def test_html_looking_text_is_stored_as_given(html: str) -> None:
    assert clean_question_text(html) == html


def test_clean_user_text_uses_the_given_code_prefix_and_may_allow_empty() -> None:
    assert clean_user_text("  ", max_len=10, code_prefix="survey.text", allow_empty=True) == ""
    with pytest.raises(InvalidInput) as info:
        clean_user_text("x" * 11, max_len=10, code_prefix="survey.text")
    assert info.value.code == "survey.text.too_long"


# --- SensitiveWords ---------------------------------------------------------------------------


def test_finds_words_inside_chinese_text_without_boundaries() -> None:
    words = SensitiveWords(["敏感词", "违规"])
    assert words.find("这个问题里有敏感词吗") == ("敏感词",)
    assert words.find("正常的问题") == ()


def test_matching_ignores_case_and_full_width_forms() -> None:
    words = SensitiveWords(["BadWord"])
    assert words.find("this is a badword") == ("BadWord",)
    assert words.find("ＢＡＤＷＯＲＤ!") == ("BadWord",)


def test_matching_ignores_spaces_and_zero_width_between_characters() -> None:
    words = SensitiveWords(["敏感词"])
    assert words.find("敏 感 词") == ("敏感词",)
    assert words.find("敏\u200b感\u3000词") == ("敏感词",)
    assert words.find("敏\u200d\n感词") == ("敏感词",)


def test_returns_each_word_once_in_order_of_first_occurrence() -> None:
    words = SensitiveWords(["乙", "甲", "甲乙"])
    # ordered by where the first occurrence ends; the longer first when two end together
    assert words.find("甲乙甲乙乙") == ("甲", "甲乙", "乙")


def test_overlapping_and_nested_words_are_all_found() -> None:
    words = SensitiveWords(["he", "she", "his", "hers"])
    assert set(words.find("ushers")) == {"she", "he", "hers"}


def test_blank_and_duplicate_entries_are_ignored() -> None:
    words = SensitiveWords(["", "  ", "Word", "word", "w o r d"])
    assert len(words) == 1
    assert words.words == ("Word",)
    assert SensitiveWords([]).find("anything") == ()


_ALPHABET = "abc敏感 \u200b"


def _naive(words: list[str], text: str) -> set[str]:
    def fold(s: str) -> str:
        return "".join(ch for ch in s.casefold() if ch not in " \u200b")

    folded = fold(text)
    return {w for w in words if fold(w) and fold(w) in folded}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet=_ALPHABET, min_size=1, max_size=4), max_size=8),
    st.text(alphabet=_ALPHABET, max_size=30),
)
def test_aho_corasick_agrees_with_naive_substring_search(words: list[str], text: str) -> None:
    found = set(SensitiveWords(words).find(text))
    expected = _naive(words, text)
    # duplicates after folding are reported under the first spelling only
    assert {w.replace(" ", "").replace("\u200b", "") for w in found} == {
        w.replace(" ", "").replace("\u200b", "") for w in expected
    }


def test_a_few_thousand_words_scan_a_question_fast() -> None:
    words = SensitiveWords([f"词{i:04d}号" for i in range(5000)] + ["禁止"])
    text = "这是一个比较长的问题，" * 45 + "禁 止"
    start = time.perf_counter()
    for _ in range(100):
        assert words.find(text) == ("禁止",)
    per_scan = (time.perf_counter() - start) / 100
    assert per_scan < 0.01


def test_every_human_field_strips_zero_width_and_refuses_bidi_and_controls() -> None:
    from server.core.text import clean_field
    from server.core.validation import Map, Str, validate

    assert clean_field("海\u200b曙\ufeff区") == ("海曙区", ())
    assert clean_field("line\r\nnext\ttab") == ("line\r\nnext\ttab", ())
    assert clean_field("abc\u202egnp")[1] == ("U+202E",)
    assert clean_field("a\x07b\u2066")[1] == ("U+0007", "U+2066")
    schema = Map({"name": Str(max_len=10)}, frozenset({"name"}))
    assert validate(schema, {"name": "张\u200d三"})["name"] == "张三"
    with pytest.raises(InvalidInput) as caught:
        validate(schema, {"name": "evil\u202etxt"}, path="body")
    assert caught.value.code == "text.bad_characters"
    assert caught.value.details == {"path": "body.name", "characters": ["U+202E"]}
    raw = Map({"password": Str(raw=True)}, frozenset({"password"}))
    assert validate(raw, {"password": "p\u200bw\u202e"})["password"] == "p\u200bw\u202e"
