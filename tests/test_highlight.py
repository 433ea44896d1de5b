"""core.highlight: only shared content terms are marked, on real SciFact text and under Hypothesis."""

from __future__ import annotations

import json
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from core import highlight as H
from core.render import escape_text

CORPUS = Path(__file__).parent / "fixtures" / "beir_scifact" / "corpus.jsonl"
WORD = re.compile(r"\w+")


def _docs() -> list[str]:
    return [f"{d['title']} {d['text']}" for d in map(json.loads, CORPUS.read_text().splitlines())]


def test_strong_is_query_light_is_positive_only():
    hl = H.highlight_terms("Do statins lower cholesterol in children?",
                           ["Statin therapy reduced LDL cholesterol in adults."],
                           "Children on statins had lower LDL levels.")
    assert hl.strong == {"statin", "lower", "children"}
    assert hl.light == {"ldl"}  # cholesterol is not in the candidate: never marked
    assert hl.strength("Statins") == H.STRONG and hl.strength("LDL") == H.LIGHT
    assert hl.strength("the") is None and hl.strength("cholesterol") is None


def test_stop_words_numbers_and_short_tokens_are_never_terms():
    assert H.terms("The 2019 study of it was in an ICU and p53") == {"study", "icu", "p53"}
    assert H.term_key("these") is None and H.term_key("1234") is None and H.term_key("__") is None


def test_common_terms_from_real_corpus_are_excluded():
    docs = _docs()
    common = H.common_terms(docs, max_df=0.1)
    df = sum("patient" in H.terms(d) for d in docs)
    assert "patient" in common and df / len(docs) > 0.1  # measured on the fixture, not assumed
    rare = [t for t in H.terms(docs[0]) if t not in common]
    assert rare  # the first doc keeps its topical words
    assert all(sum(t in H.terms(d) for d in docs) / len(docs) <= 0.1 for t in rare)
    hl = H.highlight_terms("patient outcomes", [], "patient outcomes improved", common=common)
    assert "patient" not in hl.all


def test_common_terms_needs_enough_docs():
    assert H.common_terms(["cell cell", "cell"], max_df=0.1) == frozenset()


def test_on_real_cards_far_fewer_words_are_marked_than_before():
    docs = _docs()
    common = H.common_terms(docs)
    pos, cand = docs[0], docs[1]
    hl = H.highlight_terms("two-component signalling specificity", [pos], cand, common)
    marked = sum(1 for piece, s in H.segments(pos, hl) if s)
    words = len(WORD.findall(pos))
    assert marked < 0.1 * words, (marked, words)


def test_near_copy_of_the_positive_gets_no_light_marks():
    docs = _docs()
    pos = docs[3]
    copy = "Image " + pos  # a mirrored passage
    hl = H.highlight_terms("unrelated words here", [pos], copy)
    assert hl.pos_share > 0.95 and hl.light == frozenset()
    other = H.highlight_terms("unrelated words here", [pos], docs[4])
    assert other.pos_share < H.MAX_LIGHT_SHARE and other.light


def test_segments_round_trip_and_mark_whole_words():
    hl = H.highlight_terms("cell growth", [], "cells grow; cell growth")
    segs = H.segments("Cells, cell-growth!", hl)
    assert "".join(p for p, _ in segs) == "Cells, cell-growth!"
    assert [p for p, s in segs if s] == ["Cells", "cell", "growth"]


TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=80)
WORDS = st.lists(st.sampled_from(sorted(H.STOP_WORDS)[:60] + ["cell", "gene", "Cells", "x<y",
                                                               "**b**", "12", "<mark>"]),
                 max_size=12).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(q=st.one_of(TEXT, WORDS), p=st.one_of(TEXT, WORDS), c=st.one_of(TEXT, WORDS),
       shown=st.one_of(TEXT, WORDS))
def test_hypothesis_marks_only_shared_content_words(q, p, c, shown):
    hl = H.highlight_terms(q, [p], c)
    segs = H.segments(shown, hl)
    assert "".join(piece for piece, _ in segs) == shown
    cand, query, pos = H.terms(c), H.terms(q), H.terms(p)
    for piece, s in segs:
        if s is None:
            continue
        assert piece.lower() not in H.STOP_WORDS  # never a stop word
        k = H.term_key(piece)
        assert k in cand  # never a term the candidate lacks
        assert k in (query if s == H.STRONG else pos)  # candidate-only terms never marked


@settings(max_examples=200, deadline=None)
@given(q=TEXT, c=TEXT, shown=TEXT)
def test_hypothesis_escaped_segments_carry_no_markup(q, c, shown):
    hl = H.highlight_terms(q, [c], c)
    html = "".join(f"<mark>{escape_text(p)}</mark>" if s else escape_text(p)
                   for p, s in H.segments(shown, hl))
    rest = html.replace("<mark>", "").replace("</mark>", "").replace("<br>", "")
    assert "<" not in rest and ">" not in rest
