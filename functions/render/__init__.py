"""The render function (its entry point is main.py)."""
