"""The `gitops` command: the parser (`main`), the commands, and their output.

May import anything in `shared`; nothing in `shared` imports the CLI.
"""
