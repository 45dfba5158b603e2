"""The one definition of Pub/Sub topics and push subscriptions.

The local stack creates exactly these; infra/ generates its Terraform variables
from them (so the two can never disagree). Each subscription pushes to one
function; each has a dead-letter topic and a retry policy.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "gitops"


@dataclass(frozen=True)
class Subscription:
    name: str
    topic: str
    function: str  # which function the push endpoint serves
    ordering: bool = False  # ordering key = application name
    ack_deadline_s: int = 600
    max_delivery_attempts: int = 10
    min_backoff_s: int = 1
    max_backoff_s: int = 60

    @property
    def dead_letter_topic(self) -> str:
        return dead_letter_of(self.topic)


@dataclass(frozen=True)
class Topic:
    name: str
    purpose: str


RENDER = f"{PREFIX}-render"
APPLY = f"{PREFIX}-apply"
SWEEP = f"{PREFIX}-sweep"
AUDIT = f"{PREFIX}-audit"
NOTIFICATIONS = f"{PREFIX}-notifications"

TOPICS: tuple[Topic, ...] = (
    Topic(RENDER, "render requests: one application at one commit"),
    Topic(APPLY, "apply requests: one stored revision of one application"),
    Topic(SWEEP, "the periodic drift sweep, published by Cloud Scheduler"),
    Topic(AUDIT, "audit requests: one application"),
    Topic(
        NOTIFICATIONS,
        "sync, drift, rollback, failed-render and blocked events for anyone to subscribe to "
        "(schema in shared/core/notifications.py)",
    ),
)

SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription(f"{RENDER}-push", RENDER, "render", ordering=True),
    Subscription(f"{APPLY}-push", APPLY, "apply", ordering=True),
    Subscription(f"{SWEEP}-push", SWEEP, "audit"),
    Subscription(f"{AUDIT}-push", AUDIT, "audit", ordering=True),
)

# Which topics each function publishes to (IAM grants exactly these; a test checks the code).
PUBLISHES: dict[str, tuple[str, ...]] = {
    "intake": (RENDER,),
    "render": (APPLY, NOTIFICATIONS),
    "apply": (RENDER, APPLY, NOTIFICATIONS),  # APPLY: a retry due within a minute
    "audit": (AUDIT, RENDER, APPLY, NOTIFICATIONS),
    # people's syncs and promotions (render), rollbacks (apply), refreshes (audit), sweeps
    "api": (RENDER, APPLY, AUDIT, SWEEP),
}

# The five functions: name -> (module source under functions/, entry point, signature)
FUNCTIONS: dict[str, tuple[str, str, str]] = {
    "intake": ("functions/intake/main.py", "intake", "http"),
    "render": ("functions/render/main.py", "render", "cloudevent"),
    "apply": ("functions/apply/main.py", "apply", "cloudevent"),
    "audit": ("functions/audit/main.py", "audit", "cloudevent"),
    "api": ("functions/api/main.py", "api", "http"),
}


def dead_letter_of(topic: str) -> str:
    return f"{topic}-dead-letter"


def dead_letter_topics() -> tuple[str, ...]:
    return tuple(sorted({s.dead_letter_topic for s in SUBSCRIPTIONS}))


def terraform_vars() -> dict[str, object]:
    """The topology as Terraform variables (infra/topology.auto.tfvars.json is generated from it)."""
    return {
        "topics": {t.name: t.purpose for t in TOPICS},
        "dead_letter_topics": list(dead_letter_topics()),
        "subscriptions": {
            s.name: {
                "topic": s.topic,
                "function": s.function,
                "ordering": s.ordering,
                "ack_deadline_seconds": s.ack_deadline_s,
                "max_delivery_attempts": s.max_delivery_attempts,
                "minimum_backoff": f"{s.min_backoff_s}s",
                "maximum_backoff": f"{s.max_backoff_s}s",
                "dead_letter_topic": s.dead_letter_topic,
            }
            for s in SUBSCRIPTIONS
        },
        "functions": {
            name: {"source": src, "entry_point": target, "signature": sig}
            for name, (src, target, sig) in FUNCTIONS.items()
        },
        "function_publishes": {name: list(topics) for name, topics in PUBLISHES.items()},
        "sweep_topic": SWEEP,
    }
