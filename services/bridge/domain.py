"""Pure rules of the platform registry: USCC and domicile checks, versions, what changed. No I/O here."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Final

from contracts import regions, uscc
from contracts.events.bridge import PlatformRegistered, PlatformType, PlatformUpdated, UsccCheck
from services.bridge.forms import Contact, PlatformForm

CHINA_TIME: Final = timezone(timedelta(hours=8))
_USCC_SHAPE: Final = re.compile(r"[0-9A-HJ-NPQRTUWXY]{18}")
_PERIOD: Final = re.compile(r"(?P<year>[0-9]{4})H(?P<half>[12])")


class Refused(ValueError):
    """Input a rule refuses, with a reason code, the field at fault and what the sender can do."""

    def __init__(self, reason: str, detail: str, field: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.field = field


def china_date(moment: datetime) -> date:
    """Codes are checked for the calendar day in China, where they apply."""
    return moment.astimezone(CHINA_TIME).date()


def uscc_check(code: str, *, overridden: bool) -> UsccCheck:
    """A well-formed code's verdict. A wrong check character is a warning, not a refusal (pilot codes)."""
    if uscc.is_valid(code):
        return UsccCheck.VALID
    return UsccCheck.OVERRIDDEN if overridden else UsccCheck.CHECK_FAILED


def check_uscc_shape(code: str, field: str = "uscc") -> None:
    if not _USCC_SHAPE.fullmatch(code):
        raise Refused("uscc-format", f"{code!r} is not 18 characters of the USCC alphabet (digits and A-Y without I, O, S, V, Z)", field)


def check_period(period: str) -> str:
    """Submissions are half-yearly (January and July): ``2026H1``, ``2026H2``."""
    if not _PERIOD.fullmatch(period):
        raise Refused("period-format", f"period {period!r} must look like 2026H1 or 2026H2", "period")
    return period


@dataclass(frozen=True, slots=True)
class PlatformEntry:
    platform_id: str
    name: str
    uscc: str
    uscc_check: UsccCheck
    uscc_override_reason: str | None
    domicile_region: str
    type: PlatformType
    operating_model: str
    main_categories: tuple[str, ...]
    contacts: tuple[Contact, ...]
    connected_to_canal: bool
    version: int


#: Fields whose change is news for other services (contacts are not: they never leave bridge).
EVENT_FIELDS: Final = ("name", "uscc", "uscc_check", "domicile_region", "type", "operating_model", "main_categories", "connected_to_canal")


def _entry(platform_id: str, form: PlatformForm, *, on: date, version: int, known_override: str | None) -> PlatformEntry:
    check_uscc_shape(form.uscc)
    reason = form.uscc_override_reason or known_override
    verdict = uscc_check(form.uscc, overridden=reason is not None)
    if verdict is UsccCheck.CHECK_FAILED:
        raise Refused(
            "uscc-check-failed",
            f"{form.uscc} fails its check character (expected {uscc.check_character(form.uscc[:17])}); if a person has confirmed "
            "the code is genuine (some early pilot codes are), send it again with uscc_override_reason",
            "uscc",
        )
    if regions.check_region(form.domicile_region, on) is regions.RegionCheck.INVALID:
        raise Refused("region-invalid", f"{form.domicile_region} is not a GB/T 2260 region code valid on {on.isoformat()}",
                      "domicile_region")
    return PlatformEntry(
        platform_id=platform_id,
        name=form.name,
        uscc=form.uscc,
        uscc_check=verdict,
        uscc_override_reason=reason if verdict is UsccCheck.OVERRIDDEN else None,
        domicile_region=form.domicile_region,
        type=form.type,
        operating_model=form.operating_model,
        main_categories=tuple(form.main_categories),
        contacts=tuple(form.contacts),
        connected_to_canal=form.connected_to_canal,
        version=version,
    )


def register(platform_id: str, form: PlatformForm, *, on: date, known_override: str | None = None) -> PlatformEntry:
    return _entry(platform_id, form, on=on, version=1, known_override=known_override)


def revise(current: PlatformEntry, form: PlatformForm, *, on: date, known_override: str | None = None) -> tuple[PlatformEntry, list[str]]:
    """The entry after ``form`` replaced it, and the names of the fields that changed (none: same version)."""
    override = known_override or (current.uscc_override_reason if form.uscc == current.uscc else None)
    candidate = _entry(current.platform_id, form, on=on, version=current.version, known_override=override)
    changed = [name for name in (*EVENT_FIELDS, "contacts", "uscc_override_reason") if getattr(candidate, name) != getattr(current, name)]
    if not changed:
        return current, []
    return replace(candidate, version=current.version + 1), changed


def _facts(entry: PlatformEntry) -> dict[str, object]:
    return {
        "platform_id": entry.platform_id,
        "name": entry.name,
        "uscc": entry.uscc,
        "uscc_check": entry.uscc_check,
        "domicile_region": entry.domicile_region,
        "type": entry.type,
        "operating_model": entry.operating_model,
        "main_categories": list(entry.main_categories),
        "connected_to_canal": entry.connected_to_canal,
        "version": entry.version,
    }


def registered_event(entry: PlatformEntry) -> PlatformRegistered:
    return PlatformRegistered.model_validate(_facts(entry))


def updated_event(entry: PlatformEntry, changed: list[str]) -> PlatformUpdated:
    return PlatformUpdated.model_validate(_facts(entry) | {"changed": changed})
