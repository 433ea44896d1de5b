"""Checks on the team's work read from a real store: times, blind follow rates, consistency."""

from __future__ import annotations

import pandas as pd
import pytest
from synthetic import seed_sample

from core.auth import User
from core.review import adjudicate, checks
from core.store import Store
from core.types import Role

DS = "mini"
BOSS = User("boss", Role.ADMIN)


@pytest.fixture()
def store(tmp_path):
    s = Store.open(str(tmp_path / "checks.duckdb"))
    seed_sample(s, DS, n_queries=2, n_docs=120, per_query=4)
    yield s
    s.close()


def _copy_doc(store: Store, src: str, new: str) -> None:
    """A near-duplicate of a real doc (one word changed), as corpora hold them."""
    d = store.docs(DS, doc_ids=[src]).iloc[0]
    with store.dataset_appender(DS) as w:
        w.add("docs", pd.DataFrame([{"doc_id": new, "title": d.title,
                                     "text": d.text.rsplit(" ", 1)[0] + " changed"}]))


def test_times_and_reading_floor(store):
    r = store.risk(DS).iloc[:3]
    for (q, d), secs in zip(zip(r.query_id, r.doc_id), [0.4, 60.0, None]):
        store.add_judgment(DS, q, d, "ann", "negative", seconds=secs)
    dec = checks.decisions(store, DS)
    assert list(dec.too_fast) == [True, False, False] and (dec.floor_s > 1).all()
    per = checks.time_per_annotator(store, DS).set_index("annotator")
    assert per.loc["ann", "timed"] == 2 and per.loc["ann", "too_fast"] == 1
    assert list(checks.too_fast(store, DS).doc_id) == [r.doc_id.iloc[0]]


def test_follow_rates_from_store(store):
    r = store.risk(DS).iloc[:4]
    for i, (q, d, risk) in enumerate(zip(r.query_id, r.doc_id, r.fn_risk)):
        store.add_judgment(DS, q, d, "ann", "negative", blind=i % 2 == 0, shown_risk=risk)
    f = checks.suggestion_follow(store, DS).set_index("cards")
    assert f.loc["shown", "decisions"] == 2 and f.loc["blind", "decisions"] == 2


def test_near_duplicates_labelled_differently_until_adjudicated(store):
    r = store.risk(DS)
    q, d = r.query_id.iloc[0], r.doc_id.iloc[0]
    _copy_doc(store, d, "copy-1")
    store.add_judgment(DS, q, d, "ann", "negative")
    store.add_judgment(DS, q, "copy-1", "bob", "false_negative")
    store.add_judgment(DS, q, r.doc_id.iloc[1], "bob", "false_negative")  # not a copy
    pairs = checks.inconsistent(store, DS)
    assert list(zip(pairs.doc_a, pairs.doc_b)) == [tuple(sorted((d, "copy-1")))]
    assert pairs.similarity.iloc[0] >= 0.9 and pairs.same_annotator.iloc[0] == ""
    adjudicate(store, BOSS, DS, q, d, "negative")
    assert len(checks.inconsistent(store, DS)) == 1  # the copy still says false_negative
    adjudicate(store, BOSS, DS, q, "copy-1", "negative")
    assert checks.inconsistent(store, DS).empty  # both copies settled alike


def test_the_reading_floor_counts_the_words_the_card_shows(store):
    """A 1,400-word passage shows its title and 120 words before "show more": its floor is theirs (about
    13 s), not the whole text's (2.5 min), which flagged nearly every decision as too fast."""
    from core import render
    from core.quality import pace

    d = store.docs(DS).iloc[0]
    with store.dataset_appender(DS) as w:
        w.add("docs", pd.DataFrame([{"doc_id": "long", "title": "A title", "text": " ".join(["word"] * 1400)}]))
    q = store.risk(DS).query_id.iloc[0]
    store.add_judgment(DS, q, "long", "ann", "negative", seconds=20.0)
    store.add_judgment(DS, q, str(d.doc_id), "ann", "negative", seconds=0.5)
    dec = checks.decisions(store, DS).set_index("doc_id")
    assert dec.loc["long", "floor_s"] == pytest.approx(pace.reading_floor_s("A title " + "word " * render.SHOW_WORDS))
    assert not dec.loc["long", "too_fast"] and dec.loc[str(d.doc_id), "too_fast"]
    short = render.shown_text("T", "a few words")  # a passage shown whole
    assert short == "T a few words"
