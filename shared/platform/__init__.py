"""What every process needs and no outside system provides: settings read from the
environment (`config`), structured JSON logs for Cloud Logging (`logs`), and the count of
calls each step made (`metering`).

May import: `shared.core`.
"""
