"""The pure core: what an application is and every decision about it, with no I/O.

The model (an application's spec and its typed status), the messages the functions exchange,
manifests and object identity, drift and inventory, health, ordering, secrets masking,
projects, repository URLs, git ordering rules, the webhook's parsing and signature check,
and the error kinds. Everything here is tested without servers.

May import: the standard library, third-party libraries, and `shared.core` only.
"""
