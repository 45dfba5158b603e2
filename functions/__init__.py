"""The four Cloud Functions. Each is thin: parse the event, call shared/, publish."""
