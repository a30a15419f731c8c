"""Receipt codes: what a consumer is given to look up their item without an account. Pure, no I/O.

A code is 12 characters of Crockford base32 (60 bits), shown in three groups of four (``7KQ2-M9XD-4RTA``). It is
derived from the item's id with a server key (HMAC), so it cannot be guessed without the key, the same filing
filed twice gets the same code, and the owner's views can show it again without it being stored: the database
holds only a keyed hash of the code, which is how a code is looked up.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U
LENGTH: Final = 12
GROUP: Final = 4
#: Letters people mistype for digits, read the way Crockford's spec reads them.
_READ_AS: Final = {"I": "1", "L": "1", "O": "0"}
_SEPARATORS: Final = frozenset(" -")


def receipt_code(key: bytes, complaint_id: str) -> str:
    """The item's code, grouped for reading aloud on a hotline."""
    digest = hmac.new(key, b"receipt:" + complaint_id.encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big") >> (64 - 5 * LENGTH)
    chars = "".join(ALPHABET[(number >> (5 * (LENGTH - 1 - i))) & 31] for i in range(LENGTH))
    return "-".join(chars[i:i + GROUP] for i in range(0, LENGTH, GROUP))


def normalise(typed: str) -> str | None:
    """The code as typed (any case, with or without dashes or spaces, I/L for 1, O for 0), or None if it is not one."""
    chars = []
    for char in typed.upper():
        if char in _SEPARATORS:
            continue
        char = _READ_AS.get(char, char)
        if char not in ALPHABET:
            return None
        chars.append(char)
    return "".join(chars) if len(chars) == LENGTH else None


def lookup_hash(key: bytes, code: str) -> str:
    """What the database keeps of a code: a keyed hash of its normalised form (hex, 64 characters)."""
    canonical = normalise(code)
    if canonical is None:
        raise ValueError("not a receipt code")
    return hmac.new(key, b"lookup:" + canonical.encode(), hashlib.sha256).hexdigest()


def matches(key: bytes, complaint_id: str, typed: str) -> bool:
    """Whether ``typed`` is this item's code, compared in constant time."""
    canonical = normalise(typed)
    expected = receipt_code(key, complaint_id).replace("-", "")
    return canonical is not None and hmac.compare_digest(canonical.encode(), expected.encode())
