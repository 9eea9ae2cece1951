"""Speed and memory benchmarks, run by ``make bench`` (``python -m benchmarks``).

Each ``bench_*.py`` module measures one thing and a baseline in the same run and
prints figures and their ratio: these machines are noisy, ratios are what compare.
"""
