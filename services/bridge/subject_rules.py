"""Pure rules shared by the subjects kept beside stores (enterprise websites, new-business-form subjects).

Codes are checked as in a store row (:func:`services.bridge.validation.check_row`): a malformed code is refused, a
USCC or ID number whose check character fails is only flagged (some genuine early codes fail it), a region code
must be valid on the day, and one the table cannot confirm is kept as ``unverified``. Every issue of a form is
reported at once. No I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final
from urllib.parse import urlsplit

from contracts import regions
from contracts.events.bridge import RegionCheck, UsccCheck
from services.bridge.domain import uscc_check
from services.bridge.validation import Severity

_USCC_SHAPE: Final = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_URL: Final = re.compile(r"https?://[^\s]+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Issue:
    severity: Severity
    code: str
    field: str | None
    message: str


class SubjectRefused(ValueError):
    """A form with at least one error; ``issues`` holds every error and warning found, in field order."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        self.errors = tuple(i for i in self.issues if i.severity is Severity.ERROR)
        super().__init__("; ".join(f"{i.field}: {i.message}" for i in self.errors))


@dataclass(slots=True)
class Issues:
    """Collects a form's issues; :meth:`settle` raises when there is an error and answers the warnings otherwise."""

    found: list[Issue] = field(default_factory=list)

    def error(self, code: str, field_name: str | None, message: str) -> None:
        self.found.append(Issue(Severity.ERROR, code, field_name, message))

    def warning(self, code: str, field_name: str | None, message: str) -> None:
        self.found.append(Issue(Severity.WARNING, code, field_name, message))

    def settle(self) -> tuple[Issue, ...]:
        if any(i.severity is Severity.ERROR for i in self.found):
            raise SubjectRefused(self.found)
        return tuple(self.found)


def check_uscc(code: str, issues: Issues, *, overridden: bool) -> UsccCheck | None:
    """The code's verdict; a malformed code is an error (None), a failing check character a warning unless a person
    confirmed the code (``overridden``: it is in the override table)."""
    if not _USCC_SHAPE.fullmatch(code):
        issues.error("uscc-format", "uscc", f"{code!r} is not 18 characters of the USCC alphabet (digits and A-Y without I, O, S, V, Z)")
        return None
    verdict = uscc_check(code, overridden=overridden)
    if verdict is UsccCheck.CHECK_FAILED:
        issues.warning("uscc-check-failed", "uscc", f"{code} fails its check character; kept and flagged for review")
    return verdict


def check_region(code: str, issues: Issues, *, on: date, field_name: str = "region") -> RegionCheck:
    verdict = regions.check_region(code, on)
    if verdict is regions.RegionCheck.INVALID:
        issues.error("region-invalid", field_name, f"{code} is not a GB/T 2260 region code valid on {on.isoformat()}")
        return RegionCheck.VALID
    return RegionCheck.UNVERIFIED if verdict is regions.RegionCheck.UNVERIFIED else RegionCheck.VALID


def check_http_url(url: str, issues: Issues, field_name: str) -> str | None:
    """The URL's host (lower case), or None after an error: it must be an absolute http(s) URL."""
    if not _URL.fullmatch(url):
        issues.error("url-format", field_name, f"{field_name} must be an http(s) URL")
        return None
    try:
        host = urlsplit(url).hostname
    except ValueError:
        host = None
    if not host:
        issues.error("url-format", field_name, f"{field_name} names no host")
        return None
    return host.lower()


def changed_fields(before: object, after: object, names: Sequence[str]) -> list[str]:
    """Names (in ``names`` order) whose attribute differs between two entries."""
    return [name for name in names if getattr(before, name) != getattr(after, name)]
