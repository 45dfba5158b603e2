"""Transient or permanent, per outside system: one table per adapter (shared/core/failures.py)."""

from __future__ import annotations

import pytest
from dulwich.errors import HangupException
from google.api_core import exceptions as gexc

from shared.adapters import bus, git, kube, store
from shared.core import messages
from shared.core.docsize import DocumentTooLarge
from shared.core.failures import Kind, Permanent, describe
from shared.steps import errorkinds

T, P = Kind.TRANSIENT, Kind.PERMANENT


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        (0, "connection refused", T),
        (400, "bad request", P),
        (401, "Unauthorized", P),
        (403, 'namespaces "x" is forbidden', P),
        # a project's account refused: the tenancy the API server enforces
        (
            403,
            'configmaps is forbidden: User "system:serviceaccount:gitops-projects:project-a" cannot list',
            P,
        ),
        # our own identity refused impersonation: a restarted API server's RBAC not synced yet
        (403, 'serviceaccounts "project-a" is forbidden: User "gitops-functions" cannot impersonate', T),
        (404, "not found", P),
        (409, "the object has been modified; please apply your changes to the latest version", T),
        (410, "Gone", P),
        (422, "spec.selector: field is immutable", P),
        (429, "Too many requests", T),
        (500, "etcdserver: request timed out", T),
        (500, ".spec.containers[0].imagePullPolicyy: field not declared in schema", P),
        (502, "Bad Gateway", T),
        (503, "the server is currently unable to handle the request", T),
        (504, "Timeout: request did not complete within the allotted timeout", T),
    ],
)
def test_kubernetes(status, message, kind):
    assert kube.classify(status, message) is kind
    error = kube.KubeError(status, message, transient=kind is T)
    assert kube.classify_error(error) is kind and errorkinds.classify(error) is kind


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (gexc.InvalidArgument("maximum entity size is 1048576 bytes"), P),
        (gexc.InvalidArgument("too many index entries for entity"), P),
        (gexc.FailedPrecondition("The query requires an index"), P),
        (gexc.OutOfRange("value out of range"), P),
        (gexc.ResourceExhausted("Quota exceeded."), T),
        (gexc.ServiceUnavailable("connection reset"), T),
        (gexc.DeadlineExceeded("Deadline Exceeded"), T),
        (gexc.Aborted("Too much contention on these documents"), T),
        (gexc.InternalServerError("internal"), T),
        (gexc.PermissionDenied("Missing or insufficient permissions."), T),
        (gexc.Unknown("maximum entity size is 1048576 bytes"), P),  # the message decides
        (DocumentTooLarge("applications/a", ["2,000,000 bytes is over the limit"]), P),
        # a commit over gRPC's message limit: ResourceExhausted, retried by the library until
        # its deadline (seen with 20,000 objects: the apply was redelivered again and again)
        (gexc.ResourceExhausted("gRPC message exceeds maximum size 4194304: 4866883"), P),
        (
            gexc.RetryError(
                "Timeout of 60.0s exceeded",
                gexc.ResourceExhausted("gRPC message exceeds maximum size 4194304: 4866883"),
            ),
            P,
        ),
        (gexc.RetryError("Timeout of 60.0s exceeded", gexc.ServiceUnavailable("down")), T),
        (gexc.RetryError("Timeout of 60.0s exceeded", None), T),
        (store.NotFound("application 'x' not found"), P),
    ],
)
def test_firestore(error, kind):
    assert store.classify(error) is kind
    assert errorkinds.classify(error) is kind


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (gexc.InvalidArgument("Request payload size exceeds the limit: 10485760 bytes."), P),
        (gexc.NotFound("Resource not found (resource=gitops-apply)."), P),
        (gexc.FailedPrecondition("ordering key paused"), P),
        (gexc.ServiceUnavailable("The service was unable to fulfill your request."), T),
        (gexc.DeadlineExceeded("Deadline Exceeded"), T),
        (gexc.ResourceExhausted("Publish quota exceeded"), T),
        (gexc.Aborted("aborted"), T),
        (gexc.Unauthenticated("token expired"), T),
    ],
)
def test_pubsub(error, kind):
    assert bus.classify(error) is kind
    assert errorkinds.classify(error) is kind


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (git.CommitNotFound("commit abc is not reachable from any branch"), P),
        (git.FetchError("fetching http://127.0.0.1:1/x: Connection refused"), T),
        (HangupException(), T),
    ],
)
def test_git(error, kind):
    assert git.classify(error) is kind
    assert errorkinds.classify(error) is kind


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (messages.BadMessage("not JSON"), P),
        (Permanent("refused"), P),
        (RuntimeError("something unexpected"), T),  # unrecognised: redelivered, as before
        (ValueError("a bug"), T),
    ],
)
def test_unrecognised_errors_stay_transient(error, kind):
    assert errorkinds.classify(error) is kind


def test_adapters_leave_other_systems_errors_alone():
    assert store.classify(kube.KubeError(500, "x", transient=True)) is None
    assert kube.classify_error(gexc.InvalidArgument("x")) is None
    assert git.classify(gexc.InvalidArgument("x")) is None
    assert bus.classify(git.FetchError("x")) is None


def test_describe_is_one_bounded_line():
    assert describe(ValueError("a\n  b")) == "a b"
    assert describe(RuntimeError()) == "RuntimeError"
    assert len(describe(ValueError("x" * 5000), 100)) == 100
