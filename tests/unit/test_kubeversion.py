"""The destination's Kubernetes version: parsing `/version` replies as API servers and
providers write them, and which version counts (option, override, the cluster's own)."""

from __future__ import annotations

import pytest

from shared.core import kubeversion
from shared.core.kubeversion import Source


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"major": "1", "minor": "20", "gitVersion": "v1.20.2"}, "1.20.2"),  # the local stack
        ({"major": "1", "minor": "27+", "gitVersion": "v1.27.3-gke.100"}, "1.27.3"),  # GKE
        ({"major": "1", "minor": "29+", "gitVersion": "v1.29.0-eks-5e0fdde"}, "1.29.0"),  # EKS
        ({"major": "1", "minor": "31", "gitVersion": "v1.31.1+k3s1"}, "1.31.1"),  # k3s
        ({"major": "1", "minor": "28+", "gitVersion": "v0.0.0-master+$Format:%H$"}, "0.0.0"),
        ({"major": "1", "minor": "28+"}, "1.28"),  # no gitVersion: major and minor
        ({"major": "1", "minor": "30", "gitVersion": "unknown"}, "1.30"),
    ],
)
def test_parse_reads_git_version_then_major_minor(reply, expected):
    assert kubeversion.parse(reply) == expected


@pytest.mark.parametrize("reply", [{}, {"major": "", "minor": ""}, {"gitVersion": "main"}, [], "v1.2", None])
def test_parse_refuses_a_reply_naming_no_version(reply):
    with pytest.raises(kubeversion.VersionError):
        kubeversion.parse(reply)


@pytest.mark.parametrize(
    ("option", "override", "live", "version", "source"),
    [
        ("", "", "1.20.2", "1.20.2", Source.CLUSTER),  # nothing named: the cluster's own
        ("1.29", "", "1.20.2", "1.29", Source.OPTION),  # the application renders for another
        ("", "1.30", "1.20.2", "1.30", Source.OVERRIDE),  # the operator's explicit override
        ("v1.29", "1.30", "1.20.2", "1.29", Source.OPTION),  # the application's wins
        ("", "", None, "", Source.NONE),  # unreadable: unknown, checks stay silent
        (" ", " ", None, "", Source.NONE),
    ],
)
def test_choose(option, override, live, version, source):
    assert kubeversion.choose(option, override, live) == kubeversion.Chosen(version, source)


@pytest.mark.parametrize(
    ("option", "override", "asks"),
    [("", "", True), ("1.29", "", False), ("", "1.30", False), (" ", "", True)],
)
def test_the_cluster_is_asked_only_when_nothing_names_a_version(option, override, asks):
    assert kubeversion.needs_live(option, override) is asks
