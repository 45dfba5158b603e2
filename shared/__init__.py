"""The project's common library: everything the four functions and the CLI share.

Layers, each importing only the ones below it (checked by import-linter, see pyproject.toml):

    functions/, shared.cli      the four Cloud Functions (thin) and the `gitops` command
    shared.ui                   the web pages the API function serves (below shared.api)
    shared.steps                the work of each function: intake, render, apply, audit
    shared.gate | shared.sync   checks before anything is applied | the apply engine
    shared.render               commit -> objects: safe trees, sandboxed renderers, parsing
    shared.adapters             every call to an outside system (Firestore, Pub/Sub,
                                Kubernetes, git, GitHub's API), one module per system
    shared.platform             settings, structured logs, call metering
    shared.core                 pure model, typed status and decisions; no I/O
"""
