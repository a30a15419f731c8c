"""A checked store record as the stores table holds it, one function for every way a store comes in.

Submissions (staged, then applied set-based) and posted batches (upserted one by one) must write the same
columns alike — above all the content digest the next submission compares, and the keyed digest of an ID number —
or the two paths would see one unchanged store as changed."""

from __future__ import annotations

from typing import Any

import orjson

from services.bridge.validation import StoreRecord, keyed_digest
from services.runtime.keys import FieldCipher


def store_values(record: StoreRecord, cipher: FieldCipher, mac_key: bytes) -> tuple[Any, ...]:
    """The record's values in :data:`services.bridge.store.STORE_FIELDS` order: the ID number encrypted (never kept in
    clear) and digested under the bridge's MAC key, the content digested likewise."""
    id_number = record.id_number
    return (record.merchant_name, record.uscc, record.uscc_check.value if record.uscc_check else None,
            cipher.encrypt(id_number), keyed_digest(mac_key, id_number) if id_number else None,
            record.exemption_declared, record.address, record.region, record.region_check.value, record.shop_name, record.shop_url,
            record.category, record.contact, record.above_threshold, keyed_digest(mac_key, record.content()))


def event_fields(record: StoreRecord) -> str:
    """The members of the record's store registered/updated event data that come from the record itself, as JSON
    text without the braces (``"store_id":"…","merchant_name":…``), in the order the apply's SQL writes them when a
    staged row lacks them (:meth:`services.bridge.apply._EventSql.store_fields`). Made here, where the row is checked,
    because JSON-quoting each column in PostgreSQL was the largest part of the apply's cost per store, and the
    apply — one transaction, one backend — is the longest stage of a large upload."""
    # The checks are string enums, which orjson writes as their values.
    fields: dict[str, Any] = {
        "store_id": record.store_id, "merchant_name": record.merchant_name, "exemption_declared": record.exemption_declared,
        "region": record.region, "region_check": record.region_check, "shop_name": record.shop_name, "shop_url": record.shop_url,
        "category": record.category, "above_threshold": record.above_threshold,
    }
    if record.uscc is not None:  # no code, no code check: the keys are absent, as the models have it
        fields["uscc"] = record.uscc
        fields["uscc_check"] = record.uscc_check
    return orjson.dumps(fields)[1:-1].decode()
