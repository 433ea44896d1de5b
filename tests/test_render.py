"""The card HTML shows untrusted passages as literal text: only our own tags survive."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from core.render import CardText, card_html, escape_text, highlight, risk_html, shared_terms

OUR_TAG = re.compile(r'</?(?:div|b|i|br|mark|ul|li)(?: (?:class|style)="[^"<>]*")*>')
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "**bold**",
    "[x](javascript:alert(1))",
    ":red[red] $x^2$ `code` # h ~~s~~ | a | > q",
]


def strip_ours(out: str) -> str:
    return OUR_TAG.sub("", out)


def test_hostile_texts_become_entities():
    for text in HOSTILE:
        out = escape_text(text)
        assert "<" not in out and ">" not in out
        bare = re.sub(r"&#\d+;", "", out)
        for ch in "*[]()_`#~|:$>&;":
            assert ch not in bare
        assert html.unescape(out) == text


def test_card_has_only_our_tags_and_round_trips_the_text():
    cand = CardText("d1", "**Vitamin** title", "Vitamin D <img src=x onerror=alert(1)> [x](javascript:alert(1))")
    pos = [CardText("p1", "", "vitamin D deficiency <script>alert(1)</script>")]
    out = card_html("Does vitamin D matter? **x**", pos, cand)
    rest = strip_ours(out)
    assert "<" not in rest and ">" not in rest
    assert "\n" not in out
    assert "onerror" in html.unescape(rest)  # shown as text, not as an attribute
    assert "<img" not in out.lower() and "<script" not in out.lower()
    assert '<mark style=' in out  # "vitamin" is shared and highlighted


def test_shared_terms_ignore_stopwords_and_case():
    assert shared_terms("The Vitamin and cells", ["CELLS grow"], "vitamin of cells the") == {
        "vitamin", "cells"}


def test_highlight_marks_whole_words_only():
    out = highlight("cell cells", {"cell"})
    assert out.count("<mark") == 1


def test_risk_html_percentage_and_escaped_reasons():
    out = risk_html(0.734, "dense rank 1; <b>bold</b> reason")
    assert "73&#37;" in out
    assert "&#60;b&#62;bold" in out


@settings(max_examples=300, deadline=None)
@given(q=st.text(max_size=60), p=st.text(max_size=120), c=st.text(max_size=120),
       t=st.text(max_size=30))
def test_no_foreign_markup_ever(q, p, c, t):
    out = card_html(q, [CardText("p", t, p)], CardText("c<>", t, c)) + risk_html(0.5, c)
    rest = strip_ours(out)
    assert "<" not in rest and ">" not in rest
    # every markdown/HTML-significant ASCII char outside our tags is an entity
    assert not re.search(r"[*_\[\]()`#~|$:\\!]", re.sub(r"&#\d+;", "", rest))
