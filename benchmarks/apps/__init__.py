"""The hand-written baselines, and the examples as the benchmarks run them."""
