"""All Pub/Sub access: publishing messages, and creating the topology.

A call publishes all its messages in one request per 1,000 (the Publish RPC itself, on the
client library's channel with its retry policy: shared/adapters/rpc.py) and returns their ids.
Every caller waits for its messages anyway, so the library's background batching, which
starts threads and timers for each batch, would only add latency and CPU (awaiting
publishes one by one through it costs ~18 ms per message). Messages of one ordering key
keep their order: they travel in one request, in order, or in requests sent one after the
other.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
from collections.abc import Sequence

import google.cloud.pubsub_v1 as pubsub_v1
from google.api_core import exceptions as gexc
from google.pubsub_v1.types import pubsub as _pb

from shared.adapters import coalesce, rpc
from shared.core import messages, topology
from shared.core.failures import Kind
from shared.platform import config, metering

MAX_PER_REQUEST = 1000  # the Publish RPC's limit
Item = tuple[str, bytes, dict[str, str]]  # a message: ordering key, data, attributes


def forget_clients() -> None:
    """Drop cached clients (a process that moves to another emulator, e.g. benchmarks)."""
    _publisher.cache_clear()
    _publish_rpc.cache_clear()
    _together.cache_clear()


@functools.cache
def _publisher() -> pubsub_v1.PublisherClient:
    return pubsub_v1.PublisherClient()


@functools.cache
def _publish_rpc() -> rpc.Unary:
    """Publish as a plain protobuf RPC on the library's channel (shared/adapters/rpc.py says why),
    whose transport already honours PUBSUB_EMULATOR_HOST; with the retryable codes of the
    library's own policy."""
    return rpc.Unary(
        _publisher().transport.grpc_channel,
        "/google.pubsub.v1.Publisher/Publish",
        _pb.PublishRequest.pb(),
        _pb.PublishResponse.pb(),
        (
            gexc.Aborted,
            gexc.DeadlineExceeded,
            gexc.InternalServerError,
            gexc.ResourceExhausted,
            gexc.ServiceUnavailable,
            gexc.Unknown,
            gexc.Cancelled,
        ),
    )


# Pub/Sub's answers that no retry can change: a message over 10 MB or with bad attributes
# (InvalidArgument), a topic that does not exist (NotFound)
PERMANENT = (gexc.InvalidArgument, gexc.FailedPrecondition, gexc.OutOfRange, gexc.NotFound)
# the publisher's own retryable codes, plus credentials or a role not granted yet (an operator
# can fix those; the bounded delivery attempts end in the dead-letter topic otherwise)
TRANSIENT = (
    gexc.Aborted,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
    gexc.ServiceUnavailable,
    gexc.Unknown,
    gexc.Cancelled,
    gexc.PermissionDenied,
    gexc.Unauthenticated,
)


def classify(exc: BaseException) -> Kind | None:
    """A Pub/Sub error's kind; None when it is not one (gRPC errors only). A request the
    library gave up retrying is judged by its last error."""
    if isinstance(exc, gexc.RetryError) and exc.cause is not None:
        return classify(exc.cause) or Kind.TRANSIENT
    if isinstance(exc, PERMANENT):
        return Kind.PERMANENT
    if isinstance(exc, (*TRANSIENT, gexc.RetryError)):
        return Kind.TRANSIENT
    return None


def topic_path(topic: str) -> str:
    return f"projects/{config.project()}/topics/{topic}"


def _publish_all(topic: str, items: list[Item], timeout: float = 60) -> list[str]:
    """Publish (ordering key, data, attributes) items together, then wait for them all;
    within `timeout` seconds per request of up to 1,000, retries included."""
    publish_rpc, message = _publish_rpc(), _pb.PubsubMessage.pb()
    path = topic_path(topic)
    metadata = [rpc.routing_header(topic=path)]
    ids: list[str] = []
    for start in range(0, len(items), MAX_PER_REQUEST):
        batch = [
            message(data=data, attributes=attrs, ordering_key=key)
            for key, data, attrs in items[start : start + MAX_PER_REQUEST]
        ]
        request = _pb.PublishRequest.pb()(topic=path, messages=batch)
        ids += publish_rpc(request, timeout=timeout, metadata=metadata).message_ids
        metering.count("published", len(batch))
        metering.count("published_bytes", sum(max(1000, len(m.data)) for m in batch))  # as billed
    return ids


def publish(
    topic: str,
    batch: Sequence[messages.Message],
    *,
    order_by_app: bool = True,
    timeout: float = 60,
    together: bool = False,
) -> list[str]:
    """Publish messages to a topic; return their message ids. Raises on any failure (after
    retrying for up to `timeout` seconds). `together`: in one request with what other
    threads of the process publish to the topic at the same moment (shared/adapters/coalesce.py)."""
    items = []
    for message in batch:
        app = getattr(message, "app", "")
        items.append(
            (
                app if order_by_app else "",
                messages.encode(message),
                {"kind": message.kind, "app": app, "operation": message.operation},
            )
        )
    if together:
        return _together(topic).submit(items, timeout)
    return _publish_all(topic, items, timeout)


@functools.cache
def _together(topic: str) -> coalesce.Coalescer[list[Item], list[str]]:
    def publish_groups(groups: Sequence[list[Item]], timeout: float) -> list[list[str]]:
        ids = _publish_all(topic, [item for group in groups for item in group], timeout)
        starts = list(itertools.accumulate((len(g) for g in groups), initial=0))
        return [ids[a:b] for a, b in itertools.pairwise(starts)]

    return coalesce.Coalescer(publish_groups, max_items=100)


def publish_events(topic: str, events: Sequence[dict]) -> list[str]:
    """Publish notification events (JSON), ordered per application, with type/app attributes."""
    return _publish_all(
        topic,
        [
            (
                e.get("app", ""),
                json.dumps(e, separators=(",", ":"), default=str).encode(),
                {"type": e.get("type", ""), "app": e.get("app", "")},
            )
            for e in events
        ],
    )


def publish_raw(topic: str, data: bytes, **attributes: str) -> str:
    """Publish arbitrary bytes (tests of poison messages, Cloud Scheduler's payload)."""
    return _publisher().publish(topic_path(topic), data, **attributes).result(timeout=60)


# The Pub/Sub emulator retries a failed push about once a second (it ignores the retry
# policy's backoff), and when it gives up it crashes the subscription's push loop (a
# NullPointerException forwarding to the dead-letter topic), so nothing is ever pushed again.
# Locally, then, a subscription allows the most attempts Pub/Sub accepts: a component down
# for a minute (a fault test, a restart) is retried through. Poison messages never rely on
# it: the functions send them to the dead-letter topic themselves (shared/steps/events.py).
EMULATOR_DELIVERY_ATTEMPTS = 100


def ensure_topology(push_urls: dict[str, str], *, project: str | None = None) -> None:
    """Create the topics, dead-letter topics and push subscriptions (idempotent).

    `push_urls` maps a function name to its base URL (e.g. http://127.0.0.1:8081).
    """
    project = project or config.project()
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    names = [t.name for t in topology.TOPICS] + list(topology.dead_letter_topics())
    for name in names:
        with contextlib.suppress(gexc.AlreadyExists):
            publisher.create_topic(name=f"projects/{project}/topics/{name}")
    for dlq in topology.dead_letter_topics():
        _create_subscription(
            subscriber,
            {
                "name": f"projects/{project}/subscriptions/{dlq}-hold",
                "topic": f"projects/{project}/topics/{dlq}",
            },
        )
    for sub in topology.SUBSCRIPTIONS:
        endpoint = f"{push_urls[sub.function]}/projects/{project}/topics/{sub.topic}"
        _create_subscription(
            subscriber,
            {
                "name": f"projects/{project}/subscriptions/{sub.name}",
                "topic": f"projects/{project}/topics/{sub.topic}",
                "push_config": {"push_endpoint": endpoint},
                "ack_deadline_seconds": sub.ack_deadline_s,
                "enable_message_ordering": sub.ordering,
                "dead_letter_policy": {
                    "dead_letter_topic": f"projects/{project}/topics/{sub.dead_letter_topic}",
                    "max_delivery_attempts": EMULATOR_DELIVERY_ATTEMPTS
                    if emulator_host()
                    else sub.max_delivery_attempts,
                },
                "retry_policy": {
                    "minimum_backoff": {"seconds": sub.min_backoff_s},
                    "maximum_backoff": {"seconds": sub.max_backoff_s},
                },
            },
        )


def _create_subscription(subscriber: pubsub_v1.SubscriberClient, request: dict) -> None:
    with contextlib.suppress(gexc.AlreadyExists):
        subscriber.create_subscription(request=request)


def emulator_host() -> str | None:
    return config.pubsub_emulator_host()
