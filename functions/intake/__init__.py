"""The intake function (its entry point is main.py)."""
