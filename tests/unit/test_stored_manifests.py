"""A revision's stored manifests: readable YAML while small, one JSON array when stored
compressed; `load` reads both back to the same objects."""

from __future__ import annotations

import pytest

from shared.core import manifests


def configmaps(count: int, value: str = "hello") -> list[dict[str, object]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"c-{i:05d}", "labels": {"app": "x"}},
            "data": {"greeting": value, "n": str(i)},
        }
        for i in range(count)
    ]


@pytest.mark.parametrize(
    ("objs", "form"),
    [
        ([], "yaml"),
        (configmaps(3), "yaml"),
        (configmaps(3, value="[not a list] ünïcode: 'quoted' \"too\""), "yaml"),
        (configmaps(3000), "json"),  # past READABLE_BYTES
        (configmaps(3000, value="ünïcode ✓"), "json"),
    ],
)
def test_stored_text_round_trips(objs, form):
    text = manifests.dump_stored(objs)
    assert text.startswith("[") == (form == "json")
    assert manifests.load(text) == objs


def test_small_revisions_stay_readable_yaml():
    text = manifests.dump_stored(configmaps(2))
    assert text == manifests.dump(configmaps(2)) and "kind: ConfigMap" in text


def test_yaml_written_before_still_loads():
    objs = configmaps(3000)
    assert manifests.load(manifests.dump(objs)) == objs
