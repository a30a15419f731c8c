"""Risk warnings on data where the spike is known: the method finds it, and stays quiet on ordinary days."""

from __future__ import annotations

import math
import random
from datetime import date

import pytest

from services.analytics.risk import HotTermRules, Series, SpikeRules, detect_hot_terms, detect_spikes, poisson_tail

DAY = date(2026, 11, 27)


@pytest.mark.parametrize(("k", "mean", "expected"), [(10, 2.0, 4.6498e-05), (3, 3.0, 0.57681), (0, 1.0, 1.0), (1, 0.0, 0.0)])
def test_the_poisson_tail_matches_known_values(k: int, mean: float, expected: float) -> None:
    assert math.isclose(poisson_tail(k, mean), expected, rel_tol=1e-3)


def test_a_tenfold_day_against_a_steady_baseline_is_a_spike_with_its_figures() -> None:
    series = {("P001", "quality"): Series(count=30, history=[3] * 28, examples=["c1", "c2"])}
    (warning,) = detect_spikes("spike_platform_category", series, DAY)
    assert warning.count == 30 and warning.baseline == 3.0
    assert warning.p_value < 1e-9 and warning.z > 10
    assert warning.examples == ("c1", "c2")


def test_ordinary_poisson_noise_raises_nothing_over_many_series() -> None:
    rng = random.Random(7)

    def poisson(mean: float) -> int:
        # Knuth's method: fine for small means.
        limit, k, p = math.exp(-mean), 0, 1.0
        while True:
            p *= rng.random()
            if p <= limit:
                return k
            k += 1

    series = {(f"P{i:03d}", "quality"): Series(poisson(4.0), [poisson(4.0) for _ in range(28)]) for i in range(500)}
    assert detect_spikes("spike_platform_category", series, DAY) == []


def test_a_new_series_needs_a_real_burst_not_a_handful() -> None:
    rules = SpikeRules()
    assert detect_spikes("spike_merchant", {("P001", "S1"): Series(3, [])}, DAY, rules) == []
    assert len(detect_spikes("spike_merchant", {("P001", "S1"): Series(12, [])}, DAY, rules)) == 1


def test_the_same_warning_found_twice_has_the_same_id() -> None:
    series = {("P001", "quality"): Series(count=30, history=[3] * 28)}
    assert detect_spikes("spike_platform_category", series, DAY)[0].warning_id == detect_spikes("spike_platform_category", series, DAY)[0].warning_id


def segment(text: str) -> list[str]:
    return text.split()


def test_a_term_that_suddenly_fills_the_descriptions_is_hot() -> None:
    current = [(f"c{i}", "面膜 过敏 红肿" if i < 20 else "快递 延迟") for i in range(100)]
    baseline_df = {"快递": 300, "延迟": 280, "面膜": 5}
    found = detect_hot_terms(current, 1000, baseline_df, DAY, segment, HotTermRules())
    hot = {w.key[0] for w in found}
    assert {"过敏", "红肿"} <= hot
    assert "快递" not in hot and "延迟" not in hot
    (allergy,) = [w for w in found if w.key == ("过敏",)]
    assert allergy.count == 20 and len(allergy.examples) == 5


def test_stopwords_and_single_characters_are_never_hot() -> None:
    current = [(f"c{i}", "商家 的 假") for i in range(50)]
    assert detect_hot_terms(current, 1000, {}, DAY, segment) == []
