"""Benchmarks: `python -m bench [GROUP ...]` (the groups and what each measures: the README's
"Benchmarks" section, and each group module's docstring).

Each group measures our side and the real alternative (kubectl) side by side in the same
run, alternating, and reports medians and ratios. Results are appended to
bench/results/<UTC date-time>.json (+ .md) and bench/results/latest.json.
"""
