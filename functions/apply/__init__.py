"""The apply function (its entry point is main.py)."""
