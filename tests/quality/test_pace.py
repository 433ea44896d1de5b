"""Reading floor: decisions faster than a fast skim of the passage are flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from core.quality import pace

CORPUS = Path(__file__).parents[1] / "fixtures" / "beir_scifact" / "corpus.jsonl"


def test_floor_grows_with_length():
    assert pace.reading_floor_s("") == pace.BASE_S
    assert pace.reading_floor_s("word " * 600) == pytest.approx(61.0)
    assert pace.reading_floor_s("a b c", wpm=60, base_s=0) == pytest.approx(3.0)
    with pytest.raises(ValueError):
        pace.reading_floor_s("x", wpm=0)


def test_flags_on_real_passages():
    doc = json.loads(CORPUS.read_text().splitlines()[0])
    text = doc["text"]
    floor = pace.reading_floor_s(text)
    assert floor == pace.word_count(text) / 10 + 1 and 5 < floor < 60  # 600 wpm = 10 words/s
    assert pace.too_fast(floor - 0.5, text) and not pace.too_fast(floor + 0.5, text)
    assert not pace.too_fast(None, text) and not pace.too_fast(float("nan"), text)


def test_per_annotator_counts_and_medians():
    d = pd.DataFrame({"annotator": ["ann", "ann", "ann", "bob"],
                      "seconds": [0.5, 30.0, None, 2.0],
                      "text": ["word " * 100, "word " * 100, "word " * 100, "short"]})
    f = pace.flag_fast(d)
    assert list(f.too_fast) == [True, False, False, False]
    per = pace.per_annotator(d).set_index("annotator")
    assert per.loc["ann", "decisions"] == 3 and per.loc["ann", "timed"] == 2
    assert per.loc["ann", "too_fast"] == 1 and per.loc["ann", "too_fast_share"] == 0.5
    assert per.loc["ann", "median_s"] == pytest.approx(15.25)
    assert per.loc["bob", "too_fast"] == 0
    assert pace.per_annotator(d.iloc[:0]).empty


def test_per_annotator_takes_already_flagged_rows():
    d = pd.DataFrame({"annotator": ["ann", "ann"], "seconds": [1.0, 9.0],
                      "too_fast": [True, False]})
    per = pace.per_annotator(d).set_index("annotator")
    assert per.loc["ann", "too_fast"] == 1 and per.loc["ann", "median_s"] == 5.0
