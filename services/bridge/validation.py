"""Pure rules for one row of a platform's merchant submission: what is refused, what is only flagged.

A row is *refused* (not staged, reported with its line number) when a required field is missing or a
value cannot be right; it is *flagged* (staged, reported as a warning) when a person should look: a USCC
whose check character fails (early pilot codes are genuine), a region code the table cannot confirm.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Final

import orjson

from contracts import regions
from contracts import uscc as uscc_codes
from contracts.events.bridge import RegionCheck, UsccCheck
from services.bridge.domain import uscc_check

REQUIRED: Final = ("store_id", "merchant_name", "address", "region", "shop_name", "shop_url", "category")
OPTIONAL: Final = ("uscc", "id_number", "exemption_declared", "contact", "above_threshold")
COLUMNS: Final = REQUIRED + OPTIONAL
_LIMITS: Final = {"store_id": 200, "merchant_name": 200, "address": 500, "shop_name": 200, "shop_url": 1000, "category": 200,
                  "contact": 100}
USCC_SHAPE: Final = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_ID_SHAPE: Final = re.compile(r"[0-9]{17}[0-9X]")
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_URL: Final = re.compile(r"https?://[^\s]+", re.IGNORECASE)
_TRUE: Final = frozenset({"true", "1", "yes", "y", "是", "t"})
_FALSE: Final = frozenset({"false", "0", "no", "n", "否", "f", ""})


class Severity(StrEnum):
    ERROR = "error"  # the row is not applied
    WARNING = "warning"  # the row is applied and flagged


@dataclass(frozen=True, slots=True)
class Finding:
    line: int
    severity: Severity
    code: str
    message: str
    field: str | None = None
    store_id: str | None = None


# Not frozen: a frozen dataclass sets each field through object.__setattr__, four times the cost of building
# one, and a 9-million-row file builds one per row. Nothing hashes or mutates a record; overrides use replace().
@dataclass(slots=True)
class StoreRecord:
    """One valid row, normalised. ``id_number`` stays inside bridge (encrypted at rest, never in events)."""

    store_id: str
    merchant_name: str
    uscc: str | None
    uscc_check: UsccCheck | None
    id_number: str | None
    exemption_declared: bool
    address: str
    region: str
    region_check: RegionCheck
    shop_name: str
    shop_url: str
    category: str
    contact: str | None
    above_threshold: bool

    def content(self) -> dict[str, object]:
        """What the platform supplied, normalised: the part of a store whose change is an update."""
        return {
            "merchant_name": self.merchant_name, "uscc": self.uscc, "id_number": self.id_number,
            "exemption_declared": self.exemption_declared, "address": self.address, "region": self.region,
            "shop_name": self.shop_name, "shop_url": self.shop_url, "category": self.category, "contact": self.contact,
            "above_threshold": self.above_threshold,
        }


@dataclass(slots=True)
class RowVerdict:
    line: int
    record: StoreRecord | None
    findings: list[Finding] = field(default_factory=list)
    #: The store id when it could be read, even from a refused row (a refused row must not close its store).
    store_id: str | None = None


def keyed_digest(key: bytes, value: object) -> str:
    """HMAC-SHA256 (truncated to 128 bits) of a canonical JSON value: compares content without revealing it."""
    # HMAC by its definition (RFC 2104) over copies of two SHA-256 states with the key's pads already hashed in:
    # hmac.HMAC's copy() costs twice that (2.0 against 1.1 µs), and this runs once or twice for every row of a
    # submission. tests/bridge/test_fast_check.py holds it to hmac.new.
    return keyed_digest_bytes(key, orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def keyed_digest_bytes(key: bytes, data: bytes) -> str:
    """:func:`keyed_digest` of a value already written as its canonical JSON (the bulk lane writes it column-wise)."""
    inner_state, outer_state = _keyed_states(key)
    inner = inner_state.copy()
    inner.update(data)
    outer = outer_state.copy()
    outer.update(inner.digest())
    return outer.hexdigest()[:32]


_SHA256_BLOCK: Final = 64
_INNER_PAD: Final = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD: Final = bytes(byte ^ 0x5C for byte in range(256))


@functools.lru_cache(maxsize=4)
def _keyed_states(key: bytes) -> tuple[hashlib._Hash, hashlib._Hash]:
    if len(key) > _SHA256_BLOCK:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(_SHA256_BLOCK, b"\0")
    return hashlib.sha256(padded.translate(_INNER_PAD)), hashlib.sha256(padded.translate(_OUTER_PAD))


def id_number_valid(number: str) -> bool:
    """GB 11643-1999 check character of an 18-character resident ID number."""
    total = sum(int(ch) * w for ch, w in zip(number[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == number[17]


def parse_bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, int):
        return {0: False, 1: True}.get(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return None


def _text(value: object) -> str | None:
    """Text fields accept strings and integers (spreadsheets turn ids into numbers); blank is absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    raise TypeError(type(value).__name__)


def check_row(raw: Mapping[str, object], *, line: int, on: date) -> RowVerdict:
    """Check one row for a submission received on ``on`` (region codes are valid by date)."""
    verdict = RowVerdict(line=line, record=None)
    errors = 0

    def report(severity: Severity, code: str, message: str, field_name: str | None = None) -> None:
        nonlocal errors
        errors += severity is Severity.ERROR
        verdict.findings.append(Finding(line, severity, code, message, field_name, verdict.store_id))

    values: dict[str, str | None] = {}
    for name in ("store_id", *REQUIRED[1:], "uscc", "id_number", "contact"):
        try:
            values[name] = _text(raw.get(name))
        except TypeError as exc:
            report(Severity.ERROR, "wrong-type", f"{name} must be text, not {exc}", name)
            values[name] = None
            continue
        if name == "store_id":
            verdict.store_id = values[name]
    for name in REQUIRED:
        if values.get(name) is None and not any(f.field == name for f in verdict.findings):
            report(Severity.ERROR, "required", f"{name} is required", name)
    for name, limit in _LIMITS.items():
        text = values.get(name)
        if text is not None and len(text) > limit:
            report(Severity.ERROR, "too-long", f"{name} has {len(text)} characters; at most {limit}", name)

    flags: dict[str, bool] = {}
    for name in ("exemption_declared", "above_threshold"):
        parsed = parse_bool(raw.get(name))
        if parsed is None:
            report(Severity.ERROR, "wrong-type", f"{name} must be true or false", name)
        flags[name] = bool(parsed)

    code = values["uscc"].upper() if values["uscc"] else None
    check: UsccCheck | None = None
    if code is not None:
        if not USCC_SHAPE.fullmatch(code):
            report(Severity.ERROR, "uscc-format", f"{code!r} is not 18 characters of the USCC alphabet", "uscc")
        else:
            check = uscc_check(code, overridden=False)
            if check is UsccCheck.CHECK_FAILED:
                report(Severity.WARNING, "uscc-check-failed", f"{code} fails its check character; applied and flagged for review", "uscc")
    id_number = values["id_number"].upper() if values["id_number"] else None
    if id_number is not None:
        if not _ID_SHAPE.fullmatch(id_number):
            report(Severity.ERROR, "id-number-format", "id_number must be 17 digits and a digit or X", "id_number")
        elif not id_number_valid(id_number):
            report(Severity.WARNING, "id-number-check-failed", "id_number fails its check character; applied and flagged", "id_number")
    if code is None:
        # E-Commerce Law Art. 10 / Order 37: a merchant without a licence declares its exemption and gives an ID number.
        if id_number is None:
            report(Severity.ERROR, "identity-missing", "a merchant without uscc needs id_number and exemption_declared=true", "id_number")
        if not flags["exemption_declared"]:
            report(Severity.ERROR, "exemption-not-declared", "a merchant without uscc must declare its exemption (exemption_declared=true)",
                   "exemption_declared")

    region_check = RegionCheck.VALID
    region = values["region"]
    if region is not None:
        verdict_region = regions.check_region(region, on)
        if verdict_region is regions.RegionCheck.INVALID:
            report(Severity.ERROR, "region-invalid", f"{region} is not a GB/T 2260 region code valid on {on.isoformat()}", "region")
        elif verdict_region is regions.RegionCheck.UNVERIFIED:
            # Our table's gap, not the platform's fault: kept on the store (region_check), not reported per row.
            region_check = RegionCheck.UNVERIFIED
    url = values["shop_url"]
    if url is not None and not _URL.fullmatch(url):
        report(Severity.ERROR, "url-format", "shop_url must be an http(s) URL", "shop_url")
    unknown = sorted(set(raw) - set(COLUMNS))
    if unknown:
        report(Severity.WARNING, "unknown-field", f"ignored field(s): {', '.join(unknown)}")

    if errors:
        return verdict
    assert verdict.store_id is not None and region is not None and url is not None
    verdict.record = StoreRecord(
        store_id=verdict.store_id,
        merchant_name=values["merchant_name"] or "",
        uscc=code,
        uscc_check=check,
        id_number=id_number,
        exemption_declared=flags["exemption_declared"],
        address=values["address"] or "",
        region=region,
        region_check=region_check,
        shop_name=values["shop_name"] or "",
        shop_url=url,
        category=values["category"] or "",
        contact=values["contact"],
        above_threshold=flags["above_threshold"],
    )
    return verdict


_COLUMN_SET: Final = frozenset(COLUMNS)
#: Each code character as the base-34 digit of its value (GB 32100: 0–9, then A=10 … Y=30, skipping I O S V Z).
_USCC_AS_BASE34: Final = str.maketrans({ch: "0123456789abcdefghijklmnopqrstuvwx"[i] for i, ch in enumerate(uscc_codes.ALPHABET)})
#: region has no length limit of its own: a code of another length fails the region check.
_REQUIRED_LIMITS: Final = tuple((name, _LIMITS.get(name, 1 << 30)) for name in REQUIRED)


def uscc_check_ok(code: str) -> bool:
    """``contracts.uscc.is_valid`` for a code already of the USCC shape, in C rather than a Python step per character.

    The standard's weights are the powers of 3 modulo 31 (1, 3, 9, 27, 19, …), and 34 ≡ 3 (mod 31): the first 17
    characters read backwards as a base-34 number are Σ value × 34^i, which is the weighted sum modulo 31. Only for
    codes of the shape: a character outside the alphabet would be read as some base-34 digit."""
    total = int(code[16::-1].translate(_USCC_AS_BASE34), 34)
    return uscc_codes.ALPHABET[-total % 31] == code[17]


class FastCheck:
    """The clean-row shortcut of :func:`check_row` for one submission day.

    :meth:`record` answers the :class:`StoreRecord` only for a row that :func:`check_row` would accept without any
    finding; for anything else it answers None and the caller runs :func:`check_row`, which says what is wrong.
    A 9-million-row file is almost all clean rows, so the full rule walk (and its finding objects) runs only where
    there is something to report. Region verdicts are cached per code: a file uses a few thousand codes.
    """

    __slots__ = ("_regions", "on")

    def __init__(self, on: date) -> None:
        self.on = on
        self._regions: dict[str, RegionCheck | None] = {}

    def region_verdict(self, code: str) -> RegionCheck | None:
        """The region check of a valid code on this day, None for an invalid one (cached: a file uses a few thousand)."""
        verdict = self._regions.get(code, False)
        if verdict is False:
            checked = regions.check_region(code, self.on)
            verdict = (None if checked is regions.RegionCheck.INVALID
                       else RegionCheck.UNVERIFIED if checked is regions.RegionCheck.UNVERIFIED else RegionCheck.VALID)
            self._regions[code] = verdict
        return verdict  # type: ignore[return-value]

    def record(self, raw: Mapping[str, object]) -> StoreRecord | None:
        if not _COLUMN_SET.issuperset(raw):
            return None
        texts: list[str] = []
        for name, limit in _REQUIRED_LIMITS:
            value = raw.get(name)
            if type(value) is not str:
                return None
            value = value.strip()
            if not value or len(value) > limit:
                return None
            texts.append(value)
        store_id, merchant_name, address, region, shop_name, shop_url, category = texts
        contact = raw.get("contact")
        if contact is not None:
            if type(contact) is not str:
                return None
            contact = contact.strip() or None
            if contact is not None and len(contact) > _LIMITS["contact"]:
                return None
        exemption = raw.get("exemption_declared") or False
        above = raw.get("above_threshold") or False
        if type(exemption) is not bool or type(above) is not bool:
            return None
        code = raw.get("uscc")
        if code is not None:
            if type(code) is not str:
                return None
            code = code.strip().upper() or None
        id_number = raw.get("id_number")
        if id_number is not None:
            if type(id_number) is not str:
                return None
            id_number = id_number.strip().upper() or None
        if code is not None:
            if not USCC_SHAPE.fullmatch(code) or not uscc_check_ok(code):
                return None
        elif id_number is None or not exemption:
            return None
        if id_number is not None and (not _ID_SHAPE.fullmatch(id_number) or not id_number_valid(id_number)):
            return None
        region_check = self.region_verdict(region)
        if region_check is None or not _URL.fullmatch(shop_url):
            return None
        return StoreRecord(store_id, merchant_name, code, UsccCheck.VALID if code is not None else None, id_number, exemption, address,
                           region, region_check, shop_name, shop_url, category, contact, above)
