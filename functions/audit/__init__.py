"""The audit function (its entry point is main.py)."""
