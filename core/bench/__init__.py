"""Benchmarks that print figures (`negaudit bench ...`), each beside the reference it names.

fn_detection (fn_risk against baselines on hidden labels, and the learning curve), ceiling (hidden-label
references), mining (a cold `negaudit audit` against `mine_hard_negatives`, as whole processes), scoring,
scale (kNN from supplied vectors at 1M docs), store, ingest, onnx, throughput, retrain; fresh runs each
variant in a fresh process. Figures and their history: docs/benchmarks.md.
"""
