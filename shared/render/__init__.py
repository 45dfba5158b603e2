"""From a commit to Kubernetes objects: the commit materialised safely (`tree`), the
renderers run in an OS sandbox (`sources`, `sandbox`), the YAML/JSON parsed with exact
positions (`parse`, `fastyaml`), and a render done once per (source, commit) (`cache`).

May import: `shared.adapters`, `shared.platform`, `shared.core`.
"""
