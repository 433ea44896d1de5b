"""Where the pipeline's heavy steps run: in this process (default) or as Ray Data batch jobs.

An engine is a module with three functions the pipeline calls, each doing the same work with the
same core functions (``core.encoders``, ``core.mining``, ``core.risk``) and the same results:

* ``embed_corpus(corpus, model, cache, batch_size, progress)`` -> the corpus with embeddings
  (``corpus.encoded`` counts the texts run through a model);
* ``mine_corpus(corpus, top_k, miners)`` -> candidates (``core.mining``'s frame, miners in registry order);
* ``score_candidates(candidates, inputs)`` -> ``core.risk.score_false_negatives``'s frame (the static score).

Engines never import ``core.pipeline``: the pipeline calls the engine, never the reverse.
"""

from __future__ import annotations

from types import ModuleType

from core.types import NegauditError

ENGINES = ("local", "ray")


def get_engine(name: str) -> ModuleType:
    """The engine module for ``name`` (Ray is imported only when asked for)."""
    if name == "local":
        from core.engines import local

        return local
    if name == "ray":
        from core.engines import ray_engine

        return ray_engine
    raise NegauditError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
