"""Blind-audit assignment: deterministic, per annotator, close to the configured share."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st

from core.quality.blind import DEFAULT_SHARE, blind_score, is_blind, parse_share


def test_share_is_met_on_many_items_and_differs_by_annotator():
    keys = [("mini", f"q{i % 40}", f"d{i}") for i in range(5000)]
    ann = [is_blind(*k, "ann") for k in keys]
    bob = [is_blind(*k, "bob") for k in keys]
    assert abs(sum(ann) / len(keys) - DEFAULT_SHARE) < 0.02
    assert ann != bob  # each annotator gets their own blind cards
    assert sum(is_blind(*k, "ann", 0.0) for k in keys) == 0
    assert sum(is_blind(*k, "ann", 1.0) for k in keys) == len(keys)


def test_same_answer_in_another_process():
    # Python's str hash is salted per process; the assignment must not be.
    code = "from core.quality.blind import blind_score; print(repr(blind_score('d','q','x','a')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) == blind_score("d", "q", "x", "a")


@given(st.text(), st.text(), st.text(), st.text(), st.floats(0, 1))
def test_monotone_in_share(d, q, x, a, share):
    # raising the share only adds blind cards: a card blind at 10% stays blind at 20%
    if is_blind(d, q, x, a, share):
        assert is_blind(d, q, x, a, min(1.0, share + 0.1))
    assert 0.0 <= blind_score(d, q, x, a) < 1.0


def test_parse_share():
    assert parse_share(None) == DEFAULT_SHARE and parse_share("0.35") == 0.35
    assert parse_share("junk") == DEFAULT_SHARE and parse_share("nan") == DEFAULT_SHARE
    assert parse_share("7") == 1.0 and parse_share(-1) == 0.0


def test_follow_rates_shown_vs_blind():
    import pandas as pd

    from core.quality.blind import follow_rates

    d = pd.DataFrame({
        "label": ["false_negative", "negative", "negative", "partial", "unsure", "negative",
                  "false_negative", "negative"],
        "blind": [False, False, False, False, False, True, True, None],
        "shown_risk": [0.9, 0.1, 0.8, 0.7, 0.9, 0.9, 0.2, 0.1],
    })
    out = follow_rates(d).set_index("cards")
    # shown: FN@0.9 follows, neg@0.1 follows, neg@0.8 not, partial@0.7 follows (unsure dropped)
    assert out.loc["shown", "decisions"] == 4 and out.loc["shown", "follow"] == 3
    # blind: neg@0.9 does not follow, FN@0.2 does not; the row without a flag is left out
    assert out.loc["blind", "decisions"] == 2 and out.loc["blind", "follow_rate"] == 0.0
    assert follow_rates(d.iloc[:0])["decisions"].sum() == 0
