"""The work of each function, one module per step: `intake` (a push becomes render
requests), `render`, `apply`, `audit`, `appofapps`, `diff`; `revision` reads a stored revision
back (only the render step writes them); `events` runs a step for one Pub/Sub message and
`errorkinds` decides whether its failure is retried.

May import: `shared.render`, `shared.gate`, `shared.sync`, `shared.adapters`,
`shared.platform`, `shared.core`. The functions and the CLI import the steps, never the reverse.
"""
