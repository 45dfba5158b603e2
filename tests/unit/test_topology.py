"""The one topology definition: every subscription targets a known topic and function."""

from pathlib import Path

from shared.core import topology

ROOT = Path(__file__).resolve().parents[2]


def test_subscriptions_point_at_defined_topics_and_functions():
    topics = {t.name for t in topology.TOPICS}
    for sub in topology.SUBSCRIPTIONS:
        assert sub.topic in topics
        assert sub.function in topology.FUNCTIONS
        assert sub.dead_letter_topic.endswith("-dead-letter")


def test_every_function_source_and_entry_point_exists():
    for source, target, signature in topology.FUNCTIONS.values():
        text = (ROOT / source).read_text()
        assert f"def {target}(" in text
        kind = "http" if signature == "http" else "cloud_event"
        # a WSGI function or an ASGI one (functions_framework.aio: the intake)
        assert f"functions_framework.{kind}" in text or f"functions_framework.aio.{kind}" in text


def test_functions_never_import_each_other():
    for source, _, _ in topology.FUNCTIONS.values():
        text = (ROOT / source).read_text()
        assert "from functions" not in text and "import functions." not in text


def test_infra_tfvars_are_generated_from_this_topology():
    from infra import generate

    assert generate.TFVARS.read_text() == generate.render(), "run: python -m infra.generate"
