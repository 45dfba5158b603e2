"""The agent's use of the kubernetes client: typed calls with raw replies (no model
decoding on the hot path), each reply read to its end so the connection returns to the pool."""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client as kclient
from kubernetes import config as kconfig

STRATEGIC = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"


def api_client(kubeconfig: str, pool: int = 8) -> kclient.ApiClient:
    configuration = kclient.Configuration()
    kconfig.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    configuration.connection_pool_maxsize = pool
    return kclient.ApiClient(configuration)


def body(response: Any) -> dict[str, Any]:
    """The JSON of a raw reply (`_preload_content=False`), read to its end."""
    data = response.data
    return json.loads(data) if data else {}
