"""`make bench`: the figures of issue 8 measured on the local stack, each against its target.

Run `python -m tests.bench` (quick sizes) or `python -m tests.bench --full`; see docs/bench.md.
"""
