"""One module per outside system, and the only code that talks to one.

`store` (Firestore), `bus` (Pub/Sub, with `coalesce` and `rpc` beneath them), `kube`
(Kubernetes), `git` (fetching commits with dulwich, `gitpack` screening the packs it
receives), `commit_status` (GitHub's API), `credentials` (repository and cluster
credentials), `audittrail` (who changed an object, from the cluster's audit log). Each
classifies its own errors as transient or permanent (`shared.core.failures`).

May import: `shared.platform`, `shared.core`. Never the steps.
"""
