"""Risk warnings, as pure statistics: complaint spikes against each series' own baseline, and hot terms.

Method (documented in docs/risk-warnings.md):
- **Spikes.** For each series (platform × category, or merchant) the baseline is the mean daily count over
  the previous ``baseline_days`` days. Under "nothing changed" the count of the current day is Poisson with
  that mean; a warning is raised when the one-sided tail probability P(X ≥ count) is below ``alpha``, the
  count is at least ``min_count`` and at least ``min_ratio`` times the baseline. A small floor on the baseline
  keeps brand-new series (baseline 0) from warning on a handful of complaints.
- **Hot terms.** Descriptions are segmented (jieba for Chinese); for each term, the number of complaints in the
  current window that use it is compared with the number expected from its share in the baseline window
  (add-one smoothing), with the same Poisson tail test.
Each warning carries its figures (count, baseline, z, p) and example complaint ids, so a person can check it.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final


@dataclass(frozen=True, slots=True)
class SpikeRules:
    baseline_days: int = 28
    #: With ~1,300 platform × category series and thousands of merchants, 1e-4 keeps false alarms rare.
    alpha: float = 1e-4
    min_count: int = 5
    min_ratio: float = 2.0
    #: Baseline floor (complaints/day) so a series with no history needs a real burst to warn.
    baseline_floor: float = 0.5
    max_examples: int = 5


@dataclass(frozen=True, slots=True)
class HotTermRules:
    alpha: float = 1e-4
    min_documents: int = 5
    min_ratio: float = 3.0
    max_terms: int = 20
    max_examples: int = 5


@dataclass(frozen=True, slots=True)
class Warning:
    kind: str  # spike_platform_category | spike_merchant | hot_term
    key: tuple[str, ...]
    day: date
    count: int
    baseline: float
    z: float
    p_value: float
    examples: tuple[str, ...] = field(default=())

    @property
    def warning_id(self) -> str:
        """Stable: the same warning found again (after a restart, by another replica) has the same id."""
        text = "|".join((self.kind, *self.key, self.day.isoformat()))
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def poisson_tail(k: int, mean: float) -> float:
    """P(X ≥ k) for X ~ Poisson(mean), computed in log space so large counts do not overflow."""
    if k <= 0:
        return 1.0
    if mean <= 0:
        return 0.0
    # 1 - P(X ≤ k-1); sum the pmf terms directly for stability in the upper tail.
    log_pmf = -mean + k * math.log(mean) - math.lgamma(k + 1)
    total = 0.0
    term = math.exp(log_pmf)
    i = k
    while term > 1e-300 and i < k + 10_000:
        total += term
        i += 1
        term *= mean / i
        if term < total * 1e-16:
            break
    return min(1.0, total)


def z_score(count: int, mean: float) -> float:
    return (count - mean) / math.sqrt(mean) if mean > 0 else float("inf")


@dataclass(frozen=True, slots=True)
class Series:
    """One series' current-day count with example ids, and its daily history (oldest first)."""

    count: int
    history: Sequence[int]
    examples: Sequence[str] = ()


def detect_spikes(kind: str, series: Mapping[tuple[str, ...], Series], day: date, rules: SpikeRules = SpikeRules()) -> list[Warning]:
    found = []
    for key, s in series.items():
        history = list(s.history)[-rules.baseline_days :]
        baseline = sum(history) / rules.baseline_days if history else 0.0
        expected = max(baseline, rules.baseline_floor)
        if s.count < rules.min_count or s.count < rules.min_ratio * expected:
            continue
        p = poisson_tail(s.count, expected)
        if p < rules.alpha:
            found.append(
                Warning(
                    kind,
                    key,
                    day,
                    s.count,
                    round(baseline, 4),
                    round(z_score(s.count, expected), 3),
                    p,
                    tuple(s.examples[: rules.max_examples]),
                )
            )
    return sorted(found, key=lambda w: (w.p_value, w.key))


# Words that say nothing about what went wrong, and the canal's own vocabulary.
STOPWORDS: Final = frozenset(
    [
        "的",
        "了",
        "是",
        "我",
        "在",
        "有",
        "和",
        "就",
        "不",
        "也",
        "都",
        "这",
        "那",
        "你",
        "他",
        "她",
        "它",
        "们",
        "一个",
        "没有",
        "什么",
        "商家",
        "店铺",
        "平台",
        "消费者",
        "投诉",
        "举报",
        "订单",
        "商品",
        "购买",
        "收到",
        "客服",
        "要求",
        "已经",
        "但是",
        "因为",
        "所以",
        "还是",
        "可以",
        "进行",
        "一直",
        "现在",
        "然后",
        "我们",
        "他们",
        "自己",
        "这个",
        "那个",
        "问题",
        "时候",
        "表示",
        "之后",
        "以后",
    ]
)
_KEEP: Final = re.compile(r"[\u4e00-\u9fffA-Za-z]")


def terms_of(text: str, segment: Callable[[str], Iterable[str]]) -> set[str]:
    """Distinct meaningful terms of one description: two characters or more, no stopwords, no punctuation."""
    return {t for t in (w.strip() for w in segment(text)) if len(t) >= 2 and t not in STOPWORDS and _KEEP.search(t)}


def detect_hot_terms(
    current: Sequence[tuple[str, str]],
    baseline_documents: int,
    baseline_df: Mapping[str, int],
    day: date,
    segment: Callable[[str], Iterable[str]],
    rules: HotTermRules = HotTermRules(),
) -> list[Warning]:
    """``current``: (complaint_id, description) of the window; ``baseline_df``: documents per term in the baseline."""
    df: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for complaint_id, text in current:
        for term in terms_of(text, segment):
            df[term] += 1
            bucket = examples.setdefault(term, [])
            if len(bucket) < rules.max_examples:
                bucket.append(complaint_id)
    n = len(current)
    found = []
    for term, count in df.items():
        if count < rules.min_documents:
            continue
        share = (baseline_df.get(term, 0) + 1) / (baseline_documents + 2)
        expected = share * n
        if count < rules.min_ratio * expected:
            continue
        p = poisson_tail(count, expected)
        if p < rules.alpha:
            found.append(
                Warning("hot_term", (term,), day, count, round(expected, 4), round(z_score(count, expected), 3), p, tuple(examples[term]))
            )
    found.sort(key=lambda w: (w.p_value, w.key))
    return found[: rules.max_terms]
