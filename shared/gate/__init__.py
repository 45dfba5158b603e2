"""The checks a render must pass before anything touches a cluster: schema validation
against the destination's Kubernetes version (`schema`) and the policy checks (`checks`).

May import: `shared.render` (the render's output types), `shared.adapters`,
`shared.platform`, `shared.core`.
"""
