"""The Grafana dashboards chart metrics the services really export: a renamed metric breaks this test, not a
dashboard nobody looks at until the night it is needed."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

DASHBOARDS = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"


def exported_names() -> set[str]:
    for module in ("services.runtime.metrics", "services.analytics.ingest", "services.bridge.metrics", "services.channel.metrics"):
        importlib.import_module(module)
    names: set[str] = set()
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
    for family in REGISTRY.collect():  # a labelled metric nobody has touched yet has no samples: go by its type
        names.add(family.name)
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ()))
    return names


def test_every_redshield_metric_a_dashboard_queries_is_exported() -> None:
    exported = exported_names()
    queried: set[str] = set()
    for path in DASHBOARDS.glob("*.json"):
        for panel in json.loads(path.read_text(encoding="utf-8"))["panels"]:
            for target in panel.get("targets", []):
                queried.update(re.findall(r"\bredshield_[a-z_]+", target.get("expr") or ""))
    assert queried, "no dashboard queries a redshield metric"
    assert queried <= exported, sorted(queried - exported)
