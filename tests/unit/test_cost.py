"""The cost model (bench/cost.py): arithmetic on counted operations and list prices."""

from __future__ import annotations

from bench import cost


def _counts() -> dict:
    return {**cost.DEFAULT_COUNTS, "source": "test"}


def test_prices_are_dated_with_sources() -> None:
    prices = cost.load_prices()
    assert prices["taken"] and prices["sources"]["firestore"].startswith("https://cloud.google.com/")


def test_sweep_usage_scales_with_applications() -> None:
    prices, model = cost.load_prices(), cost.Model(free_tier=False)
    small = cost.usage(10, _counts(), model, prices, idle=True)
    big = cost.usage(100, _counts(), model, prices, idle=True)
    sweeps = 30 * 24 * 12
    assert small["invocations"] == round(sweeps * 10 * 1.01, 1)  # the sweep's own share, per app
    assert big["fs_reads"] == 10 * small["fs_reads"] == sweeps * 100 * 3.0


def test_pushes_add_to_idle_and_free_tiers_only_lower_the_bill() -> None:
    prices = cost.load_prices()
    for apps in (10, 100, 1000):
        busy = cost.usage(apps, _counts(), cost.Model(), prices)
        idle = cost.usage(apps, _counts(), cost.Model(), prices, idle=True)
        assert busy["invocations"] > idle["invocations"]
        with_free = cost.cost(busy, cost.Model(), prices)["total"]
        without = cost.cost(busy, cost.Model(free_tier=False), prices)["total"]
        assert 0 <= with_free <= without


def test_billed_time_rounds_up_to_100_ms() -> None:
    model = cost.Model(slowdown=1.0)
    assert cost._billed_seconds(1.0, model, 100) == 0.1
    assert cost._billed_seconds(101.0, model, 100) == 0.2
