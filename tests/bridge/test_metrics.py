"""bridge's domain metrics move with real submissions and store batches (HTTP, the applier, the real broker;
SQLite and PostgreSQL). The registry is the process's: the tests read deltas."""

from __future__ import annotations

from prometheus_client import REGISTRY

from contracts import uscc
from tests.bridge.conftest import ndjson, register, settled, store_row, store_uscc, submit
from tests.bridge.test_store_batches import post, rec
from tests.harness import Running

ROWS = "redshield_bridge_submission_rows_total"
STATES = "redshield_bridge_submissions_total"
CHANGES = "redshield_bridge_applied_stores_total"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def snapshot() -> dict[str, float]:
    found = {f"rows:{o}": value(ROWS, outcome=o) for o in ("staged", "flagged", "refused")}
    found |= {f"state:{s}": value(STATES, state=s) for s in ("staged", "applied", "rejected", "interrupted", "failed")}
    found |= {f"change:{c}": value(CHANGES, change=c) for c in ("registered", "updated", "closed")}
    found |= {f"apply:{s}": value("redshield_bridge_apply_seconds_count", step=s) for s in ("change_events", "upsert", "events_and_upsert",
                                                                                              "commit")}
    found["receiving"] = value("redshield_bridge_submissions_receiving")
    return found


def delta(before: dict[str, float]) -> dict[str, float]:
    return {k: v - before[k] for k, v in snapshot().items() if v != before[k]}


async def test_a_submission_counts_its_rows_states_steps_and_store_changes(bridge: Running, database: tuple[str, str | None]) -> None:
    # PostgreSQL applies a file as it is staged, each batch's events and upsert in one statement; SQLite once staged.
    steps = ({"apply:events_and_upsert": 1} if database[0].startswith("postgresql") else {"apply:change_events": 1, "apply:upsert": 1})
    await register(bridge)
    good = store_uscc(7)
    pilot = good[:17] + next(ch for ch in uscc.ALPHABET if ch != good[17])  # fails its check character: staged, flagged
    body = ndjson([store_row(1), store_row(2), store_row(7, uscc=pilot)]) + b'{"store_id": "S-broken", \n'
    before = snapshot()
    first = await settled(bridge, (await submit(bridge, body)).json()["submission_id"])
    assert first["state"] == "applied"
    assert delta(before) == {"rows:staged": 2, "rows:flagged": 1, "rows:refused": 1, "state:staged": 1, "state:applied": 1,
                             "change:registered": 3, "apply:commit": 1} | steps

    before = snapshot()
    second = await settled(bridge, (await submit(bridge, ndjson([store_row(1, shop_name="新店名"), store_row(7, uscc=pilot)]))).json()["submission_id"])
    assert (second["state"], second["updated"], second["closed"]) == ("applied", 1, 1)
    assert delta(before) == {"rows:staged": 1, "rows:flagged": 1, "state:staged": 1, "state:applied": 1, "change:updated": 1,
                             "change:closed": 1, "apply:commit": 1} | steps


async def test_a_submission_with_no_valid_row_is_counted_rejected(bridge: Running) -> None:
    await register(bridge)
    before = snapshot()
    answer = await submit(bridge, ndjson([store_row(3, region="330104")]))  # region-invalid: refused
    assert answer.status_code == 202, answer.text
    assert answer.json()["state"] == "rejected"
    assert delta(before) == {"rows:refused": 1, "state:rejected": 1}


async def test_a_store_batch_counts_itself_and_its_records_by_outcome(bridge: Running) -> None:
    await register(bridge)
    outcomes = ("created", "updated", "unchanged", "duplicate", "refused")
    before = value("redshield_bridge_store_batches_total"), {o: value("redshield_bridge_store_batch_records_total", outcome=o) for o in outcomes}
    await post(bridge, rec("r1", store_row(1)), rec("r2", store_row(3, region="330104")), rec("r1", store_row(1)))
    await post(bridge, rec("r1", store_row(1)), rec("r3", store_row(1, shop_name="新店名")))
    assert value("redshield_bridge_store_batches_total") - before[0] == 2
    moved = {o: value("redshield_bridge_store_batch_records_total", outcome=o) - before[1][o] for o in outcomes}
    assert moved == {"created": 1, "updated": 1, "unchanged": 0, "duplicate": 2, "refused": 1}
