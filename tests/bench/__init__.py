"""`make bench`: the speed and cost figures measured on the local stack, each against its target.

Run `python -m tests.bench` (quick sizes) or `python -m tests.bench --full`; see docs/bench.md.
"""
