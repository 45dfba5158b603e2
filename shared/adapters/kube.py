"""All Kubernetes API calls.

One `Cluster` per destination, created once per process and reused (its HTTP pool
and API discovery survive across warm invocations). Objects are plain dicts in and
out. Errors become `KubeError` with the API server's own message and whether a
retry can help.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from typing import Any

from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ResourceNotFoundError

from shared.core import kuberbac, kubeversion
from shared.core.failures import Kind
from shared.core.model import IN_CLUSTER
from shared.platform import config, metering

APPLY_PATCH = "application/apply-patch+yaml"
# how long a destination's /version is trusted: an upgrade of the control plane is seen by the
# next render after this (kept in process with the Cluster, one entry per destination)
VERSION_TTL_S = 600.0
# The credentials' headers are worked out again at most this often: the client library's
# token hook re-reads the whole kubeconfig (host, proxies from the environment) on every
# request, 15% of the Python time of a 40,000-request first sync. Tokens live an hour.
AUTH_TTL_S = 30.0
# how long a kind the API server did not serve is remembered as unknown (per Cluster, so across
# warm invocations): every object of a kind whose CRD is missing would otherwise refresh discovery
# (/version, /apis, the library's cache file) on its own. Short, as another application may install
# the CRD any moment; forget_discovery() and forget_unknown_kinds() drop it at once
UNKNOWN_TTL_S = 15.0
USER_AGENT = "gitops/0.1"  # names our requests in the API server's audit log


class KubeError(RuntimeError):
    """An API request failed. `transient` says whether a retry can help."""

    def __init__(self, status: int, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


class UnknownKind(KubeError):
    """The API server serves no such kind (e.g. its CustomResourceDefinition is not installed)."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(404, f"the server has no resource {kind} in {api_version}", transient=False)


# HTTP 500s that are no outage: Kubernetes 1.20 answers an unknown field in a server-side
# apply patch with 500 "field not declared in schema" (4xx from 1.22 on)
PERMANENT_500 = ("field not declared in schema",)
# HTTP 403s that are no tenant's refusal: our own identity may not impersonate the project's
# ServiceAccount. That grant is installation (infra/kubernetes/rbac.yaml), and an API server
# just restarted refuses it until its RBAC caches have synced (1.20 serves before they have):
# retried with the subscription's backoff, dead-lettered after its attempts if truly missing
TRANSIENT_403 = ("cannot impersonate",)


def classify(status: int, message: str = "") -> Kind:
    """Whether retrying an API request that failed so can help.

    0 (no answer: connection refused, reset, timed out), 409 (a conflict: the object moved
    under us), 429 (throttled), 5xx and a 403 in TRANSIENT_403 are transient; every other 4xx
    (invalid, forbidden, not found, gone, immutable) is permanent, and so is a 500 in
    PERMANENT_500.
    """
    if any(text in message for text in PERMANENT_500):
        return Kind.PERMANENT
    if status == 403 and any(text in message for text in TRANSIENT_403):
        return Kind.TRANSIENT
    if status == 0 or status in (409, 429) or status >= 500:
        return Kind.TRANSIENT
    return Kind.PERMANENT


def classify_error(exc: BaseException) -> Kind | None:
    """A KubeError's kind (as it was raised with); None for anything else."""
    if isinstance(exc, KubeError):
        return Kind.TRANSIENT if exc.transient else Kind.PERMANENT
    return None


@dataclass(frozen=True)
class ApiResource:
    group_version: str
    kind: str
    plural: str
    namespaced: bool

    def path(self, namespace: str = "", name: str = "") -> str:
        base = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        ns = f"/namespaces/{namespace}" if self.namespaced and namespace else ""
        return f"{base}{ns}/{self.plural}" + (f"/{name}" if name else "")


class Cluster:
    """A connection to one API server, as the credentials' own identity or, with `as_user`,
    impersonating another (a project's ServiceAccount: shared/core/kuberbac)."""

    def __init__(self, api_client: kclient.ApiClient, as_user: str = "") -> None:
        self.api = api_client
        self.as_user = as_user
        if as_user:  # every request, discovery included, is authorised as that user
            api_client.set_default_header("Impersonate-User", as_user)
        self._dynamic: DynamicClient | None = None
        self._lock = threading.Lock()
        self._resources: dict[tuple[str, str], ApiResource] = {}
        self._namespaced: tuple[tuple[str, str], ...] | None = None
        self._unknown: dict[tuple[str, str], float] = {}  # (apiVersion, kind) -> monotonic time seen missing
        self._plurals: dict[tuple[str, str], tuple[float, str | None]] = {}  # (group, kind) -> (time, plural)
        self._count_lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # by verb: get list apply dry-run delete
        self._version: tuple[float, str] | None = None  # (monotonic time read, version)
        self._auth: tuple[float, dict[str, str]] | None = None  # (monotonic time, headers)

    def request_counts(self) -> dict[str, int]:
        with self._count_lock:
            return dict(self.requests)

    def forget_discovery(self) -> None:
        """Drop cached API discovery (after CRDs are created, their kinds resolve afresh)."""
        with self._lock:
            self._resources.clear()
            self._namespaced = None
            self._unknown.clear()
            self._plurals.clear()
            if self._dynamic is not None:
                self._dynamic.resources.invalidate_cache()

    def forget_unknown_kinds(self) -> None:
        """Look again for the kinds found missing (something may have installed their CRDs:
        a PreSync hook, an operator of an earlier wave), keeping the rest of discovery."""
        with self._lock:
            self._unknown.clear()
            self._plurals = {k: v for k, v in self._plurals.items() if v[1] is not None}

    # -- discovery ----------------------------------------------------------------

    def server_version(self) -> str:
        """The API server's Kubernetes version ("1.20.2"), from `/version`, read at most once
        every VERSION_TTL_S per process (readable by every authenticated user:
        system:public-info-viewer)."""
        now = time.monotonic()
        cached = self._version
        if cached is not None and now - cached[0] < VERSION_TTL_S:
            return cached[1]
        _, doc = self._call("version", "GET", "/version")
        try:
            version = kubeversion.parse(doc)
        except kubeversion.VersionError as exc:
            raise KubeError(200, str(exc), transient=False) from exc
        self._version = (now, version)
        return version

    def resource(self, api_version: str, kind: str) -> ApiResource:
        """The resource serving a kind; UnknownKind when the API server has none. A miss makes
        the discovery library refresh its cache once; the kind is then remembered as unknown
        for UNKNOWN_TTL_S, so 20,000 objects of a kind whose CRD is missing cost one refresh,
        not one each."""
        key = (api_version, kind)
        found = self._resources.get(key)
        if found is not None:
            return found
        with self._lock:
            if key in self._resources:  # found by another thread meanwhile
                return self._resources[key]
            missing_since = self._unknown.get(key)
            if missing_since is not None and time.monotonic() - missing_since < UNKNOWN_TTL_S:
                raise UnknownKind(api_version, kind)
            if self._dynamic is None:
                self._dynamic = DynamicClient(self.api)
            try:
                # on a miss the library refreshes discovery itself and looks again (a CRD
                # created moments ago is found)
                res = self._dynamic.resources.get(api_version=api_version, kind=kind)
            except ResourceNotFoundError:
                self._unknown[key] = time.monotonic()
                raise UnknownKind(api_version, kind) from None
            self._unknown.pop(key, None)
            self._resources[key] = ApiResource(api_version, kind, res.name, bool(res.namespaced))
            return self._resources[key]

    # -- requests -------------------------------------------------------------------

    def _call(
        self,
        verb: str,
        method: str,
        path: str,
        query: dict[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> tuple[int, Any]:
        with self._count_lock:
            self.requests[verb] += 1
        metering.count_process("kube_requests")
        url = self.api.configuration.host + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {
            **self.api.default_headers,
            "Accept": "application/json",
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            **self._auth_headers(),
        }
        data = json.dumps(body).encode() if body is not None else None
        try:
            resp = self.api.rest_client.pool_manager.request(
                method, url, body=data, headers=headers, timeout=30.0, preload_content=True
            )
        except Exception as exc:  # connection refused, reset, timeout
            raise KubeError(0, f"{method} {path}: {exc}", transient=True) from exc
        try:
            payload = json.loads(resp.data) if resp.data else None
        except ValueError:
            if resp.status < 400:
                raise KubeError(
                    resp.status, f"{method} {path}: an answer that is not JSON", transient=True
                ) from None
            payload = None  # e.g. "404 page not found": a path the server no longer serves (a deleted CRD)
        if resp.status >= 400:
            message = (payload or {}).get("message") if isinstance(payload, dict) else None
            message = message or resp.data.decode(errors="replace")[:500]
            raise KubeError(resp.status, message, transient=classify(resp.status, message) is Kind.TRANSIENT)
        return resp.status, payload

    def _auth_headers(self) -> dict[str, str]:
        """The credentials' headers (a bearer token, or none with client certificates),
        worked out at most every AUTH_TTL_S."""
        now = time.monotonic()
        cached = self._auth
        if cached is None or now - cached[0] > AUTH_TTL_S:
            headers: dict[str, str] = {}
            self.api.update_params_for_auth(headers, None, ["BearerToken"], "", "", None)
            cached = self._auth = (now, headers)
        return cached[1]

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        res = self.resource(api_version, kind)
        try:
            return self._call("get", "GET", res.path(namespace, name))[1]
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def list(
        self, api_version: str, kind: str, namespace: str = "", label_selector: str = "", cached: bool = False
    ) -> list[dict[str, Any]]:
        """`cached`: from the API server's watch cache (resourceVersion=0: no etcd read, may
        trail the latest write by moments) rather than a consistent read from etcd."""
        res = self.resource(api_version, kind)
        query = {"labelSelector": label_selector} if label_selector else {}
        if cached:
            query["resourceVersion"] = "0"
        _, payload = self._call("list", "GET", res.path(namespace), query or None)
        items = payload.get("items") or []
        for item in items:  # list items carry no apiVersion/kind
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def apply(
        self,
        obj: dict[str, Any],
        *,
        field_manager: str,
        force: bool = True,
        dry_run: bool = False,
        lenient: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """Server-side apply; returns (HTTP status: 201 created, 200 otherwise, live object).
        `lenient`: unknown fields are dropped rather than refused (`kubectl --validate=false`:
        fieldValidation=Ignore, Kubernetes 1.25+; older servers ignore the parameter)."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        query = {"fieldManager": field_manager, "force": "true" if force else "false"}
        if dry_run:
            query["dryRun"] = "All"
        if lenient:
            query["fieldValidation"] = "Ignore"
        return self._call(
            "dry-run" if dry_run else "apply",
            "PATCH",
            res.path(meta.get("namespace", ""), meta["name"]),
            query,
            obj,
            APPLY_PATCH,
        )

    def replace(
        self, obj: dict[str, Any], *, field_manager: str, dry_run: bool = False, lenient: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """`kubectl replace`, or `kubectl create` when the object does not exist (Argo CD's
        Replace=true): the whole object is written, fields set by others included."""
        res = self.resource(obj["apiVersion"], obj["kind"])
        meta = obj["metadata"]
        query = {
            "fieldManager": field_manager,
            **({"dryRun": "All"} if dry_run else {}),
            **({"fieldValidation": "Ignore"} if lenient else {}),
        }
        try:
            return self._call(
                "dry-run" if dry_run else "replace",
                "PUT",
                res.path(meta.get("namespace", ""), meta["name"]),
                query,
                obj,
            )
        except KubeError as exc:
            if exc.status != 404:
                raise
        return self._call(
            "dry-run" if dry_run else "create", "POST", res.path(meta.get("namespace", "")), query, obj
        )

    def delete(
        self, api_version: str, kind: str, namespace: str, name: str, propagation: str = "Background"
    ) -> bool:
        """Delete; False when it was already gone."""
        res = self.resource(api_version, kind)
        try:
            self._call("delete", "DELETE", res.path(namespace, name), body={"propagationPolicy": propagation})
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def plural(self, group: str, kind: str) -> str | None:
        """The resource name (e.g. deployments) of a kind in any version of its group; None
        when no version is served (remembered as resource() remembers an unknown kind)."""
        key = (group, kind)
        with self._lock:
            known = self._plurals.get(key)
            if known is not None and (known[1] is not None or time.monotonic() - known[0] < UNKNOWN_TTL_S):
                return known[1]
            if self._dynamic is None:
                self._dynamic = DynamicClient(self.api)
            found = [r for r in self._dynamic.resources.search(group=group, kind=kind) if "/" not in r.name]
            self._plurals[key] = (time.monotonic(), found[0].name if found else None)
            return self._plurals[key][1]

    def is_namespaced(self, api_version: str, kind: str) -> bool:
        return self.resource(api_version, kind).namespaced

    def namespaced_kinds(self) -> tuple[tuple[str, str], ...]:
        """(apiVersion, kind) of every namespaced resource that can be listed, in its group's
        preferred version (subresources left out): what a namespace may hold. Read from the
        API server's discovery once per Cluster (forget_discovery reads it again)."""
        with self._lock:
            if self._namespaced is not None:
                return self._namespaced
        found: dict[tuple[str, str], str] = {}
        versions = ["v1"]
        _, groups = self._call("discovery", "GET", "/apis")
        for group in (groups or {}).get("groups") or []:
            preferred = (group.get("preferredVersion") or {}).get("groupVersion")
            if preferred:
                versions.append(preferred)
        for group_version in versions:
            path = "/api/v1" if group_version == "v1" else f"/apis/{group_version}"
            try:
                _, listing = self._call("discovery", "GET", path)
            except KubeError as exc:
                if exc.transient:
                    raise
                continue  # an aggregated API that is not available: nothing to list there
            for res in (listing or {}).get("resources") or []:
                if (
                    res.get("namespaced")
                    and "/" not in res.get("name", "")
                    and "list" in (res.get("verbs") or [])
                ):
                    group = group_version.rpartition("/")[0]
                    found.setdefault((group, res["kind"]), group_version)
        kinds = tuple(sorted((version, kind) for (_, kind), version in found.items()))
        with self._lock:
            self._namespaced = kinds
        return kinds


_clusters: dict[tuple[str, str], Cluster] = {}
_clusters_lock = threading.Lock()


def forget_clients() -> None:
    """Drop cached clusters (a process that moves to another API server, e.g. benchmarks)."""
    with _clusters_lock:
        _clusters.clear()


def cluster(name: str = IN_CLUSTER, *, as_user: str = "") -> Cluster:
    """The connection for a destination cluster: a kubeconfig context, or the current one;
    with `as_user`, one that impersonates that user (its own HTTP pool)."""
    with _clusters_lock:
        if (name, as_user) not in _clusters:
            _clusters[(name, as_user)] = Cluster(_api_client(name), as_user)
        return _clusters[(name, as_user)]


def for_project(name: str, project: str) -> Cluster:
    """The connection the apply and audit steps use for an application of `project`: as the
    project's own ServiceAccount, so the API server's RBAC holds every read and write to the
    project (shared/core/kuberbac), unless GITOPS_PROJECT_IMPERSONATION=off."""
    if not config.project_impersonation():
        return cluster(name)
    try:
        user = kuberbac.impersonated_user(project)
    except kuberbac.RbacError as exc:  # a project name no ServiceAccount can carry: no retry helps
        raise KubeError(0, str(exc), transient=False) from exc
    return cluster(name, as_user=user)


def _api_client(name: str) -> kclient.ApiClient:
    """Connection settings for a cluster name, in this order:

    1. `GITOPS_CLUSTERS` (JSON: name -> {"endpoint", "caCertificate" (base64 PEM; absent for a
       GKE DNS-based endpoint, whose certificate the system's roots verify)}), which
       infra/ fills from the GKE clusters: authenticated with the function's own Google
       credentials, refreshed as they expire; or, for any other API server, with a bearer
       token read from "tokenFile" or the environment variable "tokenEnv" (where Cloud Run
       mounts or injects a Secret Manager secret).
    2. Inside a pod, for `in-cluster`: the pod's service account.
    3. A kubeconfig context of that name (`in-cluster` = the current context).
    """
    configuration = kclient.Configuration()
    registered = registered_clusters()
    if name in registered and registered[name].get("context"):
        name = registered[name]["context"]  # a kubeconfig context under another name
        registered = {}
    if name in registered:
        _configure_registered(configuration, registered[name])
    elif name == IN_CLUSTER and config.in_kubernetes():
        kconfig.load_incluster_config(client_configuration=configuration)
    else:
        context = None if name == IN_CLUSTER else name
        try:
            # KUBECONFIG is read now, not when the kubernetes package was imported
            kconfig.load_kube_config(
                config_file=config.kubeconfig(), context=context, client_configuration=configuration
            )
        except kconfig.ConfigException as exc:
            raise KubeError(0, f"cluster {name!r}: {exc}", transient=False) from exc
    configuration.connection_pool_maxsize = 16
    return kclient.ApiClient(configuration)


def registered_clusters() -> dict[str, dict[str, str]]:
    """GITOPS_CLUSTERS (from infra/) merged with the local registry file GITOPS_CLUSTERS_FILE
    (`gitops cluster add`); entries name an endpoint + CA + token source, or a context."""
    out = json.loads(config.clusters_json())
    path = config.clusters_file()
    if path and os.path.exists(path):
        with open(path) as f:
            out.update(json.load(f))
    return out


def _configure_registered(configuration: kclient.Configuration, cluster: dict[str, str]) -> None:
    configuration.host = cluster["endpoint"]
    if not configuration.host.startswith("https://"):
        configuration.host = "https://" + configuration.host
    if cluster.get("caCertificate"):  # none for GKE's DNS-based endpoint: a publicly trusted certificate
        with tempfile.NamedTemporaryFile("wb", suffix=".crt", delete=False) as ca:
            ca.write(base64.b64decode(cluster["caCertificate"]))
        configuration.ssl_ca_cert = ca.name
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    if cluster.get("tokenFile") or cluster.get("tokenEnv"):

        def read_token(client_config: kclient.Configuration) -> None:
            if cluster.get("tokenFile"):
                with open(cluster["tokenFile"]) as f:
                    token = f.read().strip()
            else:
                token = config.variable(cluster["tokenEnv"]).strip()
            client_config.api_key = {"BearerToken": token}

        # the client's Configuration initialises the hook to None without a type: mypy infers None
        configuration.refresh_api_key_hook = read_token  # type: ignore[assignment]
        read_token(configuration)
        return
    _google_token(configuration)


def _google_token(configuration: kclient.Configuration) -> None:
    """Bearer tokens from the function's Google credentials (GKE), refreshed as they expire."""
    import google.auth
    import google.auth.transport.requests

    credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
    lock = threading.Lock()

    def refresh(client_config: kclient.Configuration) -> None:
        with lock:
            if not credentials.valid:
                credentials.refresh(google.auth.transport.requests.Request())
            client_config.api_key = {"BearerToken": credentials.token}
            client_config.api_key_prefix = {"BearerToken": "Bearer"}

    configuration.refresh_api_key_hook = refresh  # type: ignore[assignment]  # declared as None
    refresh(configuration)
