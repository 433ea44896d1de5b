"""Which words of a review card to highlight, and how strongly.

A highlight is only useful when it is rare: issue 15 found nearly every word of the positive
marked. So a word is marked only if the *candidate* contains it and it is a content term: not a
stop word, not a number, not a term most documents of the dataset contain. Terms the candidate
shares with the query are *strong*; terms it shares only with a labelled positive are *light*.

Output is plain data (term sets and text segments); `core.render` escapes every segment and
adds its own tags, so this module never produces HTML.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

# The same split render.py shows: runs of word characters, and everything between them.
_WORD = re.compile(r"\w+", re.UNICODE)
_TOKEN = re.compile(r"\w+|\W+", re.UNICODE)

# sklearn's list plus words that carry no topic in scientific and web passages.
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS) | frozenset(
    ("also", "may", "might", "must", "shall", "using", "used", "use", "uses", "via", "within",
     "without", "among"))

MIN_LEN = 3  # two-letter tokens are almost always abbreviations of nothing in particular
DEFAULT_MAX_DF = 0.1  # a term in more than 10% of the dataset's documents is "very common"
MIN_DOCS_FOR_DF = 20  # below this, a document frequency says nothing about commonness

STRONG, LIGHT = "strong", "light"
# When the candidate shares more than this share of its content terms with a positive, marking
# them says nothing (everything lights up): the card gives the share instead.
MAX_LIGHT_SHARE = 0.5
# From this share the card calls the candidate a near copy (the Consistency check's bar, 90% of words).
NEAR_COPY_SHARE = 0.9


def term_key(token: str) -> str | None:
    """The comparison key of one shown word, or None when the word is never highlighted.

    Lower-cased, with a plain English plural folded (cells/cell) so both sides of a comparison
    go through the same function as the words on screen.
    """
    low = token.lower()
    if len(low) < MIN_LEN or low in STOP_WORDS or not any(ch.isalpha() for ch in low):
        return None  # short, a stop word, or a number
    key = low[:-1] if len(low) > 4 and low.endswith("s") and not low.endswith("ss") else low
    return None if key in STOP_WORDS else key


def terms(text: str | None) -> set[str]:
    """Content-term keys of a text."""
    out: set[str] = set()
    for w in _WORD.findall(text or ""):
        k = term_key(w)
        if k is not None:
            out.add(k)
    return out


def common_terms(texts: Iterable[str], max_df: float = DEFAULT_MAX_DF,
                 min_docs: int = MIN_DOCS_FOR_DF) -> frozenset[str]:
    """Terms whose document frequency over `texts` is above `max_df` (a share of the texts).

    Fewer than `min_docs` texts: empty (no basis to call anything common).
    """
    if not 0.0 < max_df <= 1.0:
        raise ValueError(f"max_df must be in (0, 1], got {max_df}")
    df: Counter[str] = Counter()
    n = 0
    for t in texts:
        n += 1
        df.update(terms(t))
    if n < min_docs:
        return frozenset()
    return frozenset(t for t, c in df.items() if c / n > max_df)


@dataclass(frozen=True, slots=True)
class Highlight:
    """Term keys to mark: `strong` (candidate ∩ query), `light` (candidate ∩ positives only).

    `pos_share`: the share of the candidate's content terms a positive also has (0..1).
    """

    strong: frozenset[str] = frozenset()
    light: frozenset[str] = frozenset()
    pos_share: float = 0.0

    def strength(self, token: str) -> str | None:
        """STRONG, LIGHT or None for one shown word."""
        k = term_key(token)
        if k is None:
            return None
        if k in self.strong:
            return STRONG
        if k in self.light:
            return LIGHT
        return None

    @property
    def all(self) -> frozenset[str]:
        return self.strong | self.light


def highlight_terms(query: str, positives: Iterable[str], candidate: str,
                    common: frozenset[str] = frozenset()) -> Highlight:
    """What to mark on one card: only terms the candidate contains, never `common` ones; no
    light marks when the candidate shares most of its terms with a positive (a near copy)."""
    cand = terms(candidate) - common
    strong = cand & terms(query)
    pos: set[str] = set()
    for p in positives:
        pos |= terms(p)
    share = len(cand & pos) / len(cand) if cand else 0.0
    light = frozenset() if share > MAX_LIGHT_SHARE else frozenset((cand & pos) - strong)
    return Highlight(frozenset(strong), light, share)


def segments(text: str | None, hl: Highlight) -> list[tuple[str, str | None]]:
    """`text` cut into (piece, strength) with strength STRONG, LIGHT or None.

    The pieces concatenate back to `text` exactly; the caller escapes each piece and wraps the
    marked ones in its own tag, so nothing in `text` can open or close a tag.
    """
    out: list[tuple[str, str | None]] = []
    for tok in _TOKEN.findall(text or ""):
        s = hl.strength(tok) if _WORD.fullmatch(tok) else None
        if out and s is None and out[-1][1] is None:
            out[-1] = (out[-1][0] + tok, None)
        else:
            out.append((tok, s))
    return out
