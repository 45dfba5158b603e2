"""Making a cluster match a render: objects prepared for the destination (`prepare`)
and the server-side apply engine with dry-runs, waves, pruning and health (`engine`).

May import: `shared.adapters`, `shared.platform`, `shared.core`.
"""
