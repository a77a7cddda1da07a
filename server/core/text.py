"""Rules for text typed by users: questions, needs-survey answers, comments, and (``clean_field``)
every other human-entered field, applied by ``server.core.validation.Str`` to every request.

``clean_question_text`` decides what a trainee's question may contain:

* surrounding whitespace (tabs included) is stripped; ``\\r\\n`` and ``\\r`` become ``\\n``;
* invisible zero-width characters (U+200B-U+200D, U+2060, U+FEFF) are STRIPPED: they carry no
  meaning for a reader and are the usual trick to slip a word past a filter (note: this also
  splits emoji joined with U+200D into their parts);
* bidi embedding/override/isolate characters (U+202A-U+202E, U+2066-U+2069) are REFUSED with
  ``question.bad_characters``: they can make text read differently on screen than it is stored;
* control characters other than newline (C0, DEL, C1; a tab inside the text too) are refused
  the same way;
* HTML-looking text (``<script>``, ``onerror=``, ``javascript:``) is kept exactly as given:
  the UI renders questions as text, never as markup.

``SensitiveWords`` finds configured words in a text with an Aho-Corasick automaton; matching is
case-insensitive (Unicode casefold after NFKC, so full-width letters match too), needs no word
boundaries (Chinese text has none) and skips zero-width characters and whitespace inserted
between the characters of a listed word.
"""

from __future__ import annotations

import re
import unicodedata
from collections import deque
from collections.abc import Iterable

from server.core.errors import InvalidInput

ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff")
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
QUESTION_MAX_LEN = 500
_ZERO_WIDTH_RE = re.compile("[\u200b-\u200d\u2060\ufeff]")
# Bidi embeddings/overrides/isolates, and control characters other than tab, newline, CR.
_FIELD_FORBIDDEN_RE = re.compile("[\u202a-\u202e\u2066-\u2069\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_field(value: str) -> tuple[str, tuple[str, ...]]:
    """The policy for every human-entered field (names, titles, site names, descriptions...):
    zero-width characters are stripped; bidi controls and control characters other than tab,
    newline and carriage return are refused. Return (cleaned text, refused characters as
    ``U+XXXX``; empty when accepted). Regexes, not a Python loop: it runs on every string."""
    bad = _FIELD_FORBIDDEN_RE.findall(value)
    if bad:
        return value, tuple(sorted({f"U+{ord(ch):04X}" for ch in bad}))
    if _ZERO_WIDTH_RE.search(value) is None:
        return value, ()
    return _ZERO_WIDTH_RE.sub("", value), ()


def _is_forbidden_control(ch: str) -> bool:
    return ch != "\n" and unicodedata.category(ch) == "Cc"


def clean_user_text(
    s: str, *, max_len: int, code_prefix: str, allow_empty: bool = False, what: str = "text"
) -> str:
    """Clean ``s`` by the rules in the module docstring; errors are ``<code_prefix>.<reason>``.

    ``<code_prefix>.empty`` (unless ``allow_empty``), ``<code_prefix>.too_long`` (characters
    counted after stripping) and ``<code_prefix>.bad_characters`` are all ``InvalidInput``.
    """
    text = s.replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch not in ZERO_WIDTH).strip()
    bad = sorted({ch for ch in text if ch in BIDI_CONTROLS or _is_forbidden_control(ch)})
    if bad:
        raise InvalidInput(
            f"{code_prefix}.bad_characters",
            f"Remove the hidden control characters from your {what} and send it again.",
            {"characters": [f"U+{ord(ch):04X}" for ch in bad]},
        )
    if not text and not allow_empty:
        raise InvalidInput(f"{code_prefix}.empty", f"Write your {what} before sending it.")
    if len(text) > max_len:
        raise InvalidInput(
            f"{code_prefix}.too_long",
            f"Shorten your {what} to at most {max_len} characters.",
            {"max_len": max_len, "length": len(text)},
        )
    return text


def clean_question_text(s: str, max_len: int = QUESTION_MAX_LEN) -> str:
    """Return the question text to store; raise ``InvalidInput`` (``question.*``) if refused."""
    return clean_user_text(s, max_len=max_len, code_prefix="question", what="question")


def _fold(s: str) -> str:
    """Normal form used by ``SensitiveWords``: NFKC, casefold, no zero-width or whitespace."""
    s = "".join(ch for ch in s if ch not in ZERO_WIDTH)
    s = unicodedata.normalize("NFKC", s).casefold()
    return "".join(ch for ch in s if not ch.isspace() and ch not in ZERO_WIDTH)


class SensitiveWords:
    """Aho-Corasick matcher over a configurable word list.

    ``find(text)`` returns the listed words (as configured) found in ``text``, each once, in the
    order their first occurrence ends (the longer first when two end together). Blank entries
    are ignored; entries equal after folding are reported under the first spelling. Matching
    ignores case, full-width forms, zero-width characters and whitespace, so ``"b a d"``
    matches ``bad`` (and, being boundary-free, ``"class assessment"`` contains ``"ass"``:
    list words with that in mind).
    """

    __slots__ = ("_fail", "_goto", "_out", "_words")

    def __init__(self, words: Iterable[str]) -> None:
        self._words: list[str] = []
        self._goto: list[dict[str, int]] = [{}]
        self._out: list[tuple[int, ...]] = [()]
        self._fail: list[int] = [0]
        seen: set[str] = set()
        for word in words:
            key = _fold(word)
            if not key or key in seen:
                continue
            seen.add(key)
            self._add(key, len(self._words))
            self._words.append(word)
        self._link()

    def _add(self, key: str, index: int) -> None:
        node = 0
        for ch in key:
            nxt = self._goto[node].get(ch)
            if nxt is None:
                nxt = len(self._goto)
                self._goto[node][ch] = nxt
                self._goto.append({})
                self._out.append(())
                self._fail.append(0)
            node = nxt
        self._out[node] = (*self._out[node], index)

    def _link(self) -> None:
        queue: deque[int] = deque(self._goto[0].values())
        while queue:
            node = queue.popleft()
            for ch, child in self._goto[node].items():
                queue.append(child)
                f = self._fail[node]
                while f and ch not in self._goto[f]:
                    f = self._fail[f]
                target = self._goto[f].get(ch, 0)
                self._fail[child] = target if target != child else 0
                self._out[child] = self._out[child] + self._out[self._fail[child]]

    def __len__(self) -> int:
        return len(self._words)

    @property
    def words(self) -> tuple[str, ...]:
        return tuple(self._words)

    def find(self, text: str) -> tuple[str, ...]:
        """Words of the list that occur in ``text`` (see the class docstring)."""
        if not self._words:
            return ()
        found: dict[int, None] = {}
        goto, fail, out = self._goto, self._fail, self._out
        node = 0
        for ch in _fold(text):
            while node and ch not in goto[node]:
                node = fail[node]
            node = goto[node].get(ch, 0)
            for index in out[node]:
                found.setdefault(index, None)
        return tuple(self._words[i] for i in found)
