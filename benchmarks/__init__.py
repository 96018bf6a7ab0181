"""Benchmarks: what issuing-elements costs next to the Stripe call it wraps.

Run ``make bench`` (or ``python -m benchmarks [--quick]``): one table of
ratios, each measured side by side in one run, with the machine it ran on.
``docs/benchmarks.md`` says what each row means. These are not tests: the
suite only checks that they still run (``tests/package/test_benchmarks.py``).
"""
