"""Benchmarks: `python -m bench [GROUP ...]` (see ../shared/notes/benchmarks.md in the handouts).

Each group measures our side and the real alternative (kubectl) side by side in the same
run, alternating, and reports medians and ratios. Results are appended to
bench/results/<UTC date-time>.json (+ .md) and bench/results/latest.json.
"""
