"""A checked store record as the stores table holds it, one function for every way a store comes in.

Submissions (staged, then applied set-based) and posted batches (upserted one by one) must write the same
columns alike — above all the content digest the next submission compares, and the keyed digest of an ID number —
or the two paths would see one unchanged store as changed."""

from __future__ import annotations

from typing import Any

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
