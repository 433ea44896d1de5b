"""Bring your own embeddings (issue 16): real MiniLM vectors of the SciFact fixture (the demo's
committed export, data/scifact.minilm.emb.f16.npz) supplied as a user who encoded elsewhere would,
in every accepted layout; each bad file gives one clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.ingest import ingest_beir
from core.ingest.embeddings import META_KEY, ingest_embeddings, read_embeddings, supplied_model
from core.types import InputError, NegauditError

ROOT = Path(__file__).resolve().parents[2]
MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def real_vectors() -> dict[str, tuple[list[str], np.ndarray]]:
    """kind -> (ids, float32 vectors) of the fixture's docs and queries, from the demo export."""
    from core.encoders import load_embeddings

    ef = load_embeddings(ROOT / "data" / "scifact.minilm.emb.f16.npz")
    pos = {rid: i for i, rid in enumerate(ef.ids)}
    fix = ROOT / "tests" / "fixtures" / "beir_scifact"
    out = {}
    for kind, file, prefix in (("doc", "corpus.jsonl", "doc:"), ("query", "queries.jsonl",
                                                                  "query:")):
        import json

        ids = [json.loads(line)["_id"] for line in (fix / file).read_text().splitlines()]
        out[kind] = (ids, ef.embeddings[[pos[prefix + i] for i in ids]])
    return out


@pytest.fixture
def sf(store, fixtures: Path):
    ingest_beir(store, fixtures / "beir_scifact", "sf")
    return store


def _parquet(path: Path, rows: list[tuple[str, str, list | None]], model: str | None = MODEL
             ) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    ids, kinds, vecs = (list(x) for x in zip(*rows))
    table = pa.table({"id": ids, "kind": kinds, "vector": vecs})
    if model:
        table = table.replace_schema_metadata({"model": model})
    pq.write_table(table, path)
    return path


def _rows(real, kinds=("doc", "query")) -> list[tuple[str, str, list]]:
    return [(rid, k, v.tolist()) for k in kinds for rid, v in zip(*real[k])]


def test_parquet_fills_the_cache_and_mining_encodes_nothing(tmp_path: Path, sf, real_vectors
                                                            ) -> None:
    from core.encoders import encode_texts_with_stats
    from core.pipeline import load_corpus, mine_dataset

    cache = tmp_path / "cache"
    out = ingest_embeddings(sf, _parquet(tmp_path / "e.parquet", _rows(real_vectors)), "sf",
                            cache=cache)
    assert out["coverage"] == {"doc": [150, 150], "query": [60, 60]}
    assert (out["model"], out["dim"], out["in_file"]) == (MODEL, 384, {"doc": 150, "query": 60})
    assert sf.dataset_info("sf")["meta"][META_KEY]["cache_model_id"] == "supplied-" + MODEL + "-384d"
    model = supplied_model(sf, "sf")
    corpus = load_corpus(sf, "sf")
    vecs, stats = encode_texts_with_stats(model, corpus.doc_texts, cache=cache)
    assert stats.encoded == 0 and stats.cache_hits == stats.unique
    ids, real = real_vectors["doc"]
    order = [ids.index(d) for d in corpus.doc_ids]
    assert np.allclose(vecs, real[order] / np.linalg.norm(real[order], axis=1, keepdims=True),
                       atol=1e-6)
    cands = mine_dataset(sf, "sf", model=model, cache=cache, miners=("dense",), top_k=5)
    assert len(cands) > 0 and set(cands.miner) == {"dense"}
    with pytest.raises(NegauditError, match="names model 'other'"):
        supplied_model(sf, "sf", "other")


def test_npz_and_npy_layouts_give_the_same_coverage(tmp_path: Path, sf, real_vectors) -> None:
    (d_ids, d_vec), (q_ids, q_vec) = real_vectors["doc"], real_vectors["query"]
    np.savez(tmp_path / "flat.npz", ids=np.array(d_ids + q_ids),
             kinds=np.array(["doc"] * len(d_ids) + ["query"] * len(q_ids)),
             vectors=np.vstack([d_vec, q_vec]), model=np.array(MODEL))
    np.savez(tmp_path / "split.npz", doc_ids=np.array(d_ids), doc_vectors=d_vec,
             query_ids=np.array(q_ids), query_vectors=q_vec)
    np.save(tmp_path / "q.npy", q_vec.astype(np.float16))
    (tmp_path / "q.ids").write_text("\n".join(q_ids) + "\n")
    for i, kwargs in enumerate([{"path": tmp_path / "flat.npz"},
                                {"path": tmp_path / "split.npz", "model": MODEL}]):
        out = ingest_embeddings(sf, into="sf", cache=tmp_path / f"c{i}", **kwargs)
        assert out["coverage"] == {"doc": [150, 150], "query": [60, 60]}
    out = ingest_embeddings(sf, tmp_path / "q.npy", "sf", model=MODEL, ids=tmp_path / "q.ids",
                            kind="query", cache=tmp_path / "c2")
    assert out["coverage"] == {"doc": [0, 150], "query": [60, 60]} and out["added"] == 60
    with pytest.raises(NegauditError, match="have no supplied vector"):
        supplied_model(sf, "sf").encode(["a doc nobody embedded"])


def _bad_files(tmp: Path, real) -> list[tuple[str, dict, str]]:
    """(file, extra kwargs, message) per bad input: one clear error each."""
    (d_ids, d_vec), (q_ids, q_vec) = real["doc"], real["query"]
    rows = _rows(real, ("doc",))[:3]
    cases = []

    def npz(name: str, **arrays) -> str:
        np.savez(tmp / name, **arrays)
        return name

    cases.append((npz("shape.npz", ids=np.array(d_ids[:2]), vectors=d_vec[0], kinds=np.array(
        ["doc", "doc"])), {}, "expected a 2-d"))
    cases.append((npz("count.npz", ids=np.array(d_ids[:2]), vectors=d_vec[:3],
                      kinds=np.array(["doc"] * 2)), {}, "2 ids, 2 kinds and 3 vectors"))
    _parquet(tmp / "ragged.parquet", rows[:2] + [(rows[2][0], "doc", rows[2][2][:10])])
    cases.append(("ragged.parquet", {}, "row 3: vector has 10 values, row 1 has 384"))
    _parquet(tmp / "noid.parquet", rows[:2] + [(None, "doc", rows[2][2])])
    cases.append(("noid.parquet", {}, "row 3: missing id"))
    _parquet(tmp / "novec.parquet", rows[:2] + [(rows[2][0], "doc", None)])
    cases.append(("novec.parquet", {}, "row 3: missing vector"))
    nan = d_vec[:3].copy()
    nan[1, 7] = np.nan
    cases.append((npz("nan.npz", doc_ids=np.array(d_ids[:3]), doc_vectors=nan), {},
                  f"row 2 \\(id '{d_ids[1]}'\\): NaN"))
    cases.append((npz("zero.npz", doc_ids=np.array(d_ids[:2]), doc_vectors=np.zeros((2, 4))), {},
                  "all-zero vector"))
    cases.append((npz("dims.npz", doc_ids=np.array(d_ids[:2]), doc_vectors=d_vec[:2],
                      query_ids=np.array(q_ids[:2]), query_vectors=q_vec[:2, :100]), {},
                  "doc vectors have dimension 384, query vectors 100"))
    cases.append((npz("unknown.npz", doc_ids=np.array(["nope", d_ids[0]]),
                      doc_vectors=d_vec[:2]), {}, "1 doc ids are not in dataset 'sf'.*'nope'"))
    cases.append((npz("dup.npz", doc_ids=np.array([d_ids[0], d_ids[0]]), doc_vectors=d_vec[:2]),
                  {}, "row 2: duplicate id"))
    cases.append((npz("kind.npz", ids=np.array(d_ids[:1]), vectors=d_vec[:1],
                      kinds=np.array(["passage"])), {}, "kind must be 'doc' or 'query'"))
    cases.append((npz("nokind.npz", ids=np.array(d_ids[:1]), vectors=d_vec[:1]), {},
                  "give `kinds`"))
    cases.append((npz("strs.npz", doc_ids=np.array(d_ids[:1]), doc_vectors=np.array([["a"]])),
                  {}, "vectors must be numbers"))
    cases.append((npz("nothing.npz", other=np.zeros(2)), {}, "no vectors"))
    np.save(tmp / "m.npy", d_vec[:3])
    (tmp / "short.ids").write_text("\n".join(d_ids[:2]) + "\n")
    cases.append(("m.npy", {"ids": tmp / "short.ids", "kind": "doc"}, "2 ids for 3 vectors"))
    cases.append(("m.npy", {}, "give --ids FILE"))
    (tmp / "x.csv").write_text("a\n")
    cases.append(("x.csv", {}, "unsupported file type"))
    # empty, truncated or not numpy at all: named, never "aborted" (click's reading of EOFError) or a traceback
    (tmp / "empty.npy").write_bytes(b"")
    cases.append(("empty.npy", {"ids": tmp / "short.ids", "kind": "doc"}, "empty file"))
    (tmp / "text.npy").write_text("0.1 0.2\n")
    cases.append(("text.npy", {"ids": tmp / "short.ids", "kind": "doc"}, "not a .npy file"))
    (tmp / "cut.npy").write_bytes((tmp / "m.npy").read_bytes()[:200])
    cases.append(("cut.npy", {"ids": tmp / "short.ids", "kind": "doc"}, "not a readable npy file"))
    (tmp / "empty.npz").write_bytes(b"")
    cases.append(("empty.npz", {}, "empty file"))
    (tmp / "head.npz").write_bytes(b"PK\x03\x04")
    cases.append(("head.npz", {}, "not a readable npz file \\(BadZipFile"))
    (tmp / "cut.npz").write_bytes((tmp / "count.npz").read_bytes()[:1000])
    cases.append(("cut.npz", {}, "not a readable npz file"))
    _parquet(tmp / "other.parquet", rows, model="other-model")
    cases.append(("other.parquet", {"model": "mine"}, "the file names model 'other-model'"))
    return cases


def test_each_bad_file_gives_one_clear_error(tmp_path: Path, sf, real_vectors) -> None:
    for name, kwargs, message in _bad_files(tmp_path, real_vectors):
        kwargs = {"model": MODEL, **kwargs}
        with pytest.raises(NegauditError, match=message) as info:
            ingest_embeddings(sf, tmp_path / name, "sf", cache=tmp_path / "cache", **kwargs)
        assert isinstance(info.value, InputError) and Path(str(info.value.path)).name == name
        assert "\n" not in str(info.value)  # one line
    assert META_KEY not in sf.dataset_info("sf")["meta"]  # nothing recorded by a failure


def test_model_and_dimension_are_checked_against_the_recorded_ones(tmp_path: Path, sf,
                                                                   real_vectors) -> None:
    (d_ids, d_vec), (q_ids, q_vec) = real_vectors["doc"], real_vectors["query"]
    np.savez(tmp_path / "d.npz", doc_ids=np.array(d_ids), doc_vectors=d_vec)
    np.savez(tmp_path / "q64.npz", query_ids=np.array(q_ids), query_vectors=q_vec[:, :64])
    np.savez(tmp_path / "q.npz", query_ids=np.array(q_ids), query_vectors=q_vec)
    cache = tmp_path / "cache"
    ingest_embeddings(sf, tmp_path / "d.npz", "sf", model=MODEL, cache=cache)
    with pytest.raises(NegauditError, match="dimension 64 does not match dataset 'sf'.s 384-d"):
        ingest_embeddings(sf, tmp_path / "q64.npz", "sf", model=MODEL, cache=cache)
    with pytest.raises(NegauditError, match="embeddings from model 'all-MiniLM-L6-v2'; these "
                                            "name 'e5'"):
        ingest_embeddings(sf, tmp_path / "q.npz", "sf", model="e5", cache=cache)
    with pytest.raises(NegauditError, match="--model NAME"):
        ingest_embeddings(sf, tmp_path / "q.npz", "sf", cache=cache)
    out = ingest_embeddings(sf, tmp_path / "q.npz", "sf", model=MODEL, cache=cache)
    assert out["coverage"] == {"doc": [150, 150], "query": [60, 60]}
    with pytest.raises(NegauditError, match="no dataset named 'nope'"):
        ingest_embeddings(sf, tmp_path / "q.npz", "nope", model=MODEL, cache=cache)


def test_read_embeddings_accepts_integer_ids_and_any_dimension(tmp_path: Path) -> None:
    np.savez(tmp_path / "i.npz", doc_ids=np.arange(3), doc_vectors=np.eye(3, 7))
    sup = read_embeddings(tmp_path / "i.npz")
    assert sup.blocks["doc"].ids == ["0", "1", "2"] and sup.dim == 7


def test_other_vectors_under_a_model_already_cached_are_refused(tmp_path: Path, sf, fixtures: Path,
                                                                real_vectors) -> None:
    """The cache keeps the first vector per text and model: a second file of other vectors under the same
    model name was "added 0" and silently never used. The same vectors again (float16 or not) are fine."""
    (d_ids, d_vec), (q_ids, q_vec) = real_vectors["doc"], real_vectors["query"]
    cache = tmp_path / "cache"
    np.savez(tmp_path / "d.npz", doc_ids=np.array(d_ids), doc_vectors=d_vec)
    ingest_embeddings(sf, tmp_path / "d.npz", "sf", model=MODEL, cache=cache)
    np.savez(tmp_path / "same.npz", doc_ids=np.array(d_ids), doc_vectors=d_vec.astype(np.float16))
    assert ingest_embeddings(sf, tmp_path / "same.npz", "sf", model=MODEL, cache=cache)["added"] == 0
    ingest_beir(sf, fixtures / "beir_scifact", "sf2")  # same texts, another dataset
    other = np.roll(d_vec, 1, axis=0)  # real vectors, each on another doc
    np.savez(tmp_path / "other.npz", doc_ids=np.array(d_ids), doc_vectors=other,
             query_ids=np.array(q_ids), query_vectors=q_vec)
    with pytest.raises(InputError, match=f"model '{MODEL}' already holds other vectors for 150 of these doc "
                                         f"texts \\(e.g. '{d_ids[0]}'") as info:
        ingest_embeddings(sf, tmp_path / "other.npz", "sf2", model=MODEL, cache=cache)
    assert info.value.field == "vector"
    assert META_KEY not in sf.dataset_info("sf2")["meta"]
    from core.encoders import EmbeddingCache, text_key
    from core.ingest.embeddings import cache_model_id

    qs = sf.queries("sf2")
    hit, _ = EmbeddingCache(cache).lookup(cache_model_id(MODEL, 384), [text_key(t) for t in qs.text])
    assert not hit.any()  # refused before any write: the file's query vectors were not added either
    out = ingest_embeddings(sf, tmp_path / "other.npz", "sf2", model="my-model", cache=cache)
    assert out["coverage"] == {"doc": [150, 150], "query": [60, 60]}
