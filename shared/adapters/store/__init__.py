"""All Firestore access, one module per concern.

Layout, meant to be read by a person in the GCP console:

    applications/{name}                   spec (Argo CD field names) + status + lease
    applications/{name}/revisions/{id}    a rendered revision: commit, author, manifests
    applications/{name}/revisions/{id}/parts/{000}  a big revision's manifests, compressed
    applications/{name}/inventory/{generation}-{000}  what the app owns, in parts (status.inventory
                                          points at the generation the last sync recorded)
    applications/{name}/history/{000042}  one deployment: who, what, summary and counts
    applications/{name}/history/{000042}/results/{000}  its result per object, in parts
    applications/{name}/drift/{id}        what a sweep found, who changed it, what was done
    applications/{name}/drift/{id}/parts/{000}  the drifted objects beyond the first DRIFT_INLINE
    repositories/{hash}                   per repository: its apps' routing (revision, paths)
    repositories/{hash}/folders/{hash}    past ROUTES_INLINE_BYTES: routing by watched folder
    repositories/{hash}/folders/{hash}/routes/{name}  past FOLDER_INLINE_BYTES: one app's route
    renders/{digest}                      render-once cache: one (repo, commit, path, options) render
    webhookDeliveries/{delivery id}       GitHub delivery ids seen (dedupe; TTL on expireAt)
    settings/rbac                         the RBAC policy in force (shared/core/rbac.py)
    audit/{id}                            one API call: who, what, on what, the answer

Modules: `common` (the client, collection names, QUERIES, the bound checks), `errors`
(NotFound, LeaseBusy, LeaseLost, classify), `apps` (applications: spec, status, parent),
`routing` (a repository's routes, sharded by folder), `intake` (the webhook's hot path:
delivery ids and route reads as plain RPCs), `operations` (the lease and history),
`inventories`, `revisions`, `renders` (the render-once cache), `drift`, `projects`, and
`parts` (big values kept in parts documents). Callers use the names re-exported here:
`from shared.adapters import store; store.get_app(name)`.

Every query the store makes is listed in QUERIES, so a test can check that infra/ declares
an index for each. The application's status is typed (shared/core/status.py): its field
paths in the document are known here only (apps.STATUS_PATHS).

Every document has a bound whatever the size of an application: lists that grow with it
(inventory, per-object results, drifted objects) are kept in parts of at most PART_BYTES,
and every write is checked against Firestore's limits first (shared/core/docsize.py): what
Firestore would refuse is never sent, and raises DocumentTooLarge, a permanent error
(`classify`).
"""

from google.cloud import firestore

from shared.adapters.store.access import audit_entries, get_policy, put_audit, put_policy
from shared.adapters.store.apps import (
    APPS_PER_TRANSACTION,
    HISTORY_COUNT,
    STATUS_PATHS,
    App,
    children_of,
    delete_app,
    get_app,
    get_apps,
    list_app_docs,
    list_apps,
    put_app,
    put_apps,
    set_pin,
    status_fields,
    update_status,
    update_statuses,
)
from shared.adapters.store.common import (
    APPS,
    DELIVERIES,
    INVENTORY,
    QUERIES,
    REPOSITORIES,
    RESULTS,
    app_ref,
    bounds,
    checked,
    client,
    merged,
    now,
)
from shared.adapters.store.drift import DRIFT_INLINE, drift_records, put_drift
from shared.adapters.store.errors import (
    PERMANENT,
    PERMANENT_MESSAGES,
    TRANSIENT,
    LeaseBusy,
    LeaseLost,
    NotFound,
    classify,
)
from shared.adapters.store.intake import (
    COMMIT_MAX,
    delivery_ref,
    forget_clients,
    forget_delivery,
    hot,
    record_delivery,
)
from shared.adapters.store.inventories import inventory, inventory_count, put_inventory, unrecorded
from shared.adapters.store.operations import (
    DONE_OPERATIONS_KEPT,
    LEASE_S,
    Begun,
    begin_operation,
    finish_operation,
    get_history,
    heartbeat,
    history,
    release_lease,
    running_operation,
    trim_history,
)
from shared.adapters.store.parts import COMMIT_BYTES, INLINE_BYTES, PART_BYTES, PART_BYTES_JSON, chunk
from shared.adapters.store.projects import PROJECTS, get_project, list_projects, put_project
from shared.adapters.store.renders import RENDERS, count_render_use, get_render, put_render
from shared.adapters.store.revisions import get_revision, put_revision
from shared.adapters.store.routing import (
    FOLDERS,
    ROUTES_INLINE_BYTES,
    apps_for_repo,
    push_folders,
    repo_ref,
    route_folders,
    set_reads,
)

__all__ = [
    "APPS",
    "APPS_PER_TRANSACTION",
    "COMMIT_BYTES",
    "COMMIT_MAX",
    "DELIVERIES",
    "DONE_OPERATIONS_KEPT",
    "DRIFT_INLINE",
    "FOLDERS",
    "HISTORY_COUNT",
    "INLINE_BYTES",
    "INVENTORY",
    "LEASE_S",
    "PART_BYTES",
    "PART_BYTES_JSON",
    "PERMANENT",
    "PERMANENT_MESSAGES",
    "PROJECTS",
    "QUERIES",
    "RENDERS",
    "REPOSITORIES",
    "RESULTS",
    "ROUTES_INLINE_BYTES",
    "STATUS_PATHS",
    "TRANSIENT",
    "App",
    "Begun",
    "LeaseBusy",
    "LeaseLost",
    "NotFound",
    "app_ref",
    "apps_for_repo",
    "audit_entries",
    "begin_operation",
    "bounds",
    "checked",
    "children_of",
    "chunk",
    "classify",
    "client",
    "count_render_use",
    "delete_app",
    "delivery_ref",
    "drift_records",
    "finish_operation",
    "firestore",
    "forget_clients",
    "forget_delivery",
    "get_app",
    "get_apps",
    "get_history",
    "get_policy",
    "get_project",
    "get_render",
    "get_revision",
    "heartbeat",
    "history",
    "hot",
    "inventory",
    "inventory_count",
    "list_app_docs",
    "list_apps",
    "list_projects",
    "merged",
    "now",
    "push_folders",
    "put_app",
    "put_apps",
    "put_audit",
    "put_drift",
    "put_inventory",
    "put_policy",
    "put_project",
    "put_render",
    "put_revision",
    "record_delivery",
    "release_lease",
    "repo_ref",
    "route_folders",
    "running_operation",
    "set_pin",
    "set_reads",
    "status_fields",
    "trim_history",
    "unrecorded",
    "update_status",
    "update_statuses",
]
