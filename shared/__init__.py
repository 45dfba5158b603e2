"""The project's common library: everything the four functions and the CLI share.

Three modules own all I/O: `kube` (Kubernetes), `store` (Firestore) and `bus`
(Pub/Sub). Everything else is pure logic that can be tested without servers.
"""
