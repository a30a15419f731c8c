"""Unified social credit code (GB 32100-2015) check character."""

from __future__ import annotations

from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_VALUE: Final = {ch: i for i, ch in enumerate(ALPHABET)}


def check_character(first17: str) -> str:
    if len(first17) != 17 or any(ch not in _VALUE for ch in first17):
        raise ValueError("need the first 17 characters of a USCC, from the USCC alphabet")
    total = sum(_VALUE[ch] * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def is_valid(code: str) -> bool:
    """True when ``code`` is 18 USCC characters whose last one is the right check character."""
    if len(code) != 18 or any(ch not in _VALUE for ch in code):
        return False
    return check_character(code[:17]) == code[17]


def complete(first17: str) -> str:
    return first17 + check_character(first17)
