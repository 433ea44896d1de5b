"""The card HTML shows untrusted passages as literal text: only our own tags survive."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from core.highlight import Highlight
from core.render import (
    CardText,
    ListRow,
    blind_html,
    box_html,
    candidate_label,
    card_highlight,
    card_html,
    escape_text,
    in_app_words,
    list_html,
    marked,
    miners_html,
    plain_reason,
    query_html,
    risk_html,
    split_words,
)

OUR_TAG = re.compile(
    r'</?(?:div|b|i|br|mark|ul|li|span|details|summary)(?: (?:class|style|title)="[^"<>]*")*>')
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
    assert '<mark class="na-hl-strong"' in out  # "vitamin" is shared with the query


def test_highlight_marks_shared_content_words_only():
    cand = CardText("c", "", "The vitamin of cells, and more cells")
    hl = card_highlight("The Vitamin and cells", [CardText("p", "", "CELLS grow")], cand)
    assert hl.strong == {"vitamin", "cell"}
    out = marked(cand.text, hl)
    assert out.count("<mark") == 3 and "na-hl-strong" in out
    assert ">The<" not in out and ">of<" not in out  # stop words stay plain


def test_long_passages_collapse_behind_show_more():
    text = " ".join(f"w{i}" for i in range(300))
    head, tail = split_words(text, 120)
    assert head.endswith("w119") and head + tail == text
    dose = " ".join(["word"] * 118) + " at 0.8 mg/kg (p<0.05). Then more"
    head, tail = split_words(dose, 120)  # the 120th word is "0" of "0.8": the cut waits for the space
    assert head.endswith("at 0.8") and tail.startswith(" mg/kg") and head + tail == dose
    out = box_html("candidate", "candidate", [CardText("c", "t", text)], Highlight(), "300px",
                   "#d97706")
    assert "show more &#40;180 words&#41;" in out and "<details" in out
    assert 'class="na-box na-candidate"' in out and "height:300px" in out
    short = box_html("candidate", "c", [CardText("c", "", " ".join(["w"] * 150))], Highlight(),
                     "1px", "#000")
    assert "show more" not in short  # 30 more words are shown, not hidden


def test_list_rows_focus_and_blind():
    rows = [ListRow(CardText(f"d{i}", "", f"text {i} <b>x</b>"), 0.5 if i != 2 else None,
                    "negative" if i == 3 else None, blind=i == 2) for i in range(10)]
    out = list_html(rows, 2, [Highlight()] * 10, "400px", window=6)
    assert out.count('<div class="na-row') == 6 and out.count("na-focus") == 1
    assert "&#35;2 &#183; d1" in out and "&#35;8" not in out  # rows 2-7: the focus second
    assert "d2 &#183; blind" in out and "negative" in out
    assert "<b>x</b>" not in out
    assert blind_html().count("risk") == 0


def test_risk_html_percentage_and_escaped_reasons():
    out = risk_html(0.734, "dense rank 1; <b>bold</b> reason")
    assert "73&#37;" in out
    assert "&#60;b&#62;bold" in out


def test_risk_html_shows_plain_words_and_keeps_the_numbers_in_the_hover_text():
    reasons = ("far closer in meaning to the query than most documents (dense score 7.9 sd above the query's corpus "
               "mean, query moved toward its positives); a query likely to hold several relevant docs (the query's "
               "top documents match it word for word (mean token MaxSim 0.80)); the query names a topic")
    out = risk_html(0.5, reasons)
    shown = out.split("&#8212;", 1)[1]
    assert "far closer in meaning to the query than most documents &#183;" in shown
    assert "a query likely to hold several relevant docs &#183; the query names a topic</div>" in shown
    assert "7&#46;9" not in shown and "MaxSim" not in shown
    title = out.split('title="', 1)[1].split('"', 1)[0]
    assert "7&#46;9 sd" in title and "0&#46;80&#41;&#41;" in title
    hostile = risk_html(0.5, 'x" onmouseover="alert(1) (1)')
    assert 'onmouseover="' not in hostile and hostile.count("onmouseover&#61;&#34;") == 2  # title and line


def test_plain_reason_drops_only_a_balanced_closing_parenthesis():
    assert plain_reason("shares many of the query's words (BM25 is 72% of the query's best)") == (
        "shares many of the query's words")
    assert plain_reason("a query likely (x (a) and y (b))") == "a query likely"
    for whole in ("the query names a topic", "odd) text)", "x (unbalanced"):
        assert plain_reason(whole) == whole
    assert plain_reason("(BM25 is 6% of the query's best)") == ""  # numbers alone: no words on the card
    out = risk_html(0.01, "(BM25 is 6% of the query's best); shares some of the query's words (BM25 is 40% ...)")
    assert out.split("&#8212;", 1)[1].strip().startswith("shares some of the query") and "6&#37;" in out


def test_miners_html_lists_every_signal_escaped():
    from core.risk.signals import SIGNALS

    sig = {name: 0.5 for name in SIGNALS} | {"<b>x</b>": 1.0, "note": "text is not a signal"}
    out = miners_html([{"miner": "dense<script>", "rank": 3, "score": 0.25}], sig)
    for name in SIGNALS:  # the learned ones last in the registry too (late_maxsim, neighbour_label, ...)
        assert f"<li>{escape_text(name)} = 0.500</li>" in out
    assert "note" not in out and f"{escape_text('<b>x</b>')} = 1.000" in out
    assert "dense&#60;script&#62; &#183; rank 3 &#183; score 0.250" in out
    rest = strip_ours(out)
    assert "<" not in rest and ">" not in rest


@settings(max_examples=300, deadline=None)
@given(q=st.text(max_size=60), p=st.text(max_size=120), c=st.text(max_size=120),
       t=st.text(max_size=30))
def test_no_foreign_markup_ever(q, p, c, t):
    cand = CardText("c<>", t, c)
    hl = card_highlight(q, [CardText("p", t, p)], cand)
    out = (card_html(q, [CardText("p", t, p)], cand) + risk_html(0.5, c) + query_html(q, hl)
           + box_html("positive", p, [CardText(t, t, p)], hl, "10px", "#000")
           + list_html([ListRow(cand, 0.5, t)], 0, [hl], "10px"))
    rest = strip_ours(out)
    assert "<" not in rest and ">" not in rest
    # every markdown/HTML-significant ASCII char outside our tags is an entity
    assert not re.search(r"[*_\[\]()`#~|$:\\!]", re.sub(r"&#\d+;", "", rest))


def test_the_caption_calls_only_a_real_near_copy_one():
    """Two abstracts on one topic share half their terms: the caption gives the share past 50% (where the
    shared terms stop being lit) and says "near copy" only from 90%."""
    assert candidate_label(Highlight(pos_share=0.3)) == "candidate (mined negative)"
    mid = candidate_label(Highlight(pos_share=0.58))
    assert "58% of its terms are in the positive" in mid and "near copy" not in mid
    assert "near copy: 95%" in candidate_label(Highlight(pos_share=0.95))
    pos, cand = CardText("p", "", "gut microbiome shapes immune response"), CardText("c", "", "gut microbiome shapes immune response")
    assert "near copy: 100%" in candidate_label(card_highlight("does the gut matter", [pos], cand))


def test_a_long_passage_says_its_length_in_its_caption():
    """The "show more" toggle sits at the end of the shown words, often below the box's fold: the caption,
    always in view, says the passage is long."""
    hl = Highlight()
    long_text = " ".join(f"w{i}" for i in range(1436))
    out = box_html("candidate", "candidate", [CardText("d1", "", long_text)], hl, "300px", "#d97706")
    assert "d1 &#183; 1&#44;436 words</div>" in out and "show more &#40;1316 words&#41;" in out
    short = box_html("candidate", "candidate", [CardText("d2", "", "a few words only")], hl, "300px", "#d97706")
    assert "words</div>" not in short


def test_in_app_words_names_the_pages_controls_not_cli_flags():
    words = {"--overwrite": '"Overwrite"', "--out": "output path", "--name": "dataset name"}
    assert (in_app_words("x exists; pass --overwrite or pick another --out", words)
            == 'x exists; choose "Overwrite" or pick another output path')
    assert in_app_words("a dataset needs a non-empty --name", words) == "a dataset needs a non-empty dataset name"
    # a command to run elsewhere keeps its flags; a flag the page has no control for stays
    assert (in_app_words("or `negaudit datasets rm x --name y`; --model M", words)
            == "or `negaudit datasets rm x --name y`; --model M")
    assert in_app_words("--out-dir and --outer are other flags", words) == "--out-dir and --outer are other flags"
    # a command the app does with a button is named as that button (the admin audit read a broken shell line)
    said = in_app_words("run `negaudit mine --name **evil** [x](javascript:1)` first; or `negaudit datasets rm x`",
                        words, {"negaudit mine": "Mine + score (Datasets page)"})
    assert said == "run Mine + score (Datasets page) first; or `negaudit datasets rm x`"
