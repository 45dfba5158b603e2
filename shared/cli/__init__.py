"""The `gitops` command: `main` (the parser and the dispatch), one module per command group (app,
project, render, webhook, cluster, repo, recover, sweep; each holds its parsers and its handlers),
`wait` (waiting for an operation), `inputs` (manifest files, --source, local JSON stores) and
`output` (-o table|wide|json|yaml, colours, progress, CliError).

May import anything in `shared`; nothing in `shared` imports the CLI. Inside it: main imports the
command groups, which import wait, inputs and output; a group never imports another, and nothing
imports main (import-linter checks it).
"""
