"""Pure rules of new-business-form subjects (新业态主体): live-stream hosts, micro-stores, group-buying leaders and the
like, each attached to the platform it sells through. The platform writes its own (a regulator may too).

Identity follows a store row's rules (E-Commerce Law Art. 10, SAMR Order 37): a subject with a USCC gives it (a
failing check character is flagged, a malformed code refused); one without gives an ID number and declares its
exemption. The ID number is never kept here: the entry holds its keyed digest, which says whether it changed
without revealing it (the caller encrypts the number at rest). No I/O here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, StringConstraints

from contracts.events.bridge import NewBusinessForm, NewFormSubjectRegistered, NewFormSubjectUpdated, RegionCheck, UsccCheck
from services.bridge.subject_rules import Issue, Issues, changed_fields, check_http_url, check_region, check_uscc
from services.bridge.validation import id_number_valid, keyed_digest

_ID_SHAPE: Final = re.compile(r"[0-9]{17}[0-9X]")
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
SubjectId = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$")]


class NewFormSubjectForm(BaseModel):
    """A subject's entry as its platform sends it (``PUT …/new-form-subjects/{subject_id}`` replaces it whole)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    form: NewBusinessForm
    name: Text
    uscc: Annotated[str, StringConstraints(min_length=1, max_length=18, strip_whitespace=True, to_upper=True)] | None = None
    #: A resident ID number (GB 11643), required without a USCC; encrypted at rest, never shown or published.
    id_number: Annotated[str, StringConstraints(min_length=1, max_length=40, strip_whitespace=True, to_upper=True)] | None = None
    exemption_declared: bool = False
    region: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    handle: Text
    url: Annotated[str, StringConstraints(min_length=1, max_length=1000, strip_whitespace=True)] | None = None
    category: Text


@dataclass(frozen=True, slots=True)
class NewFormSubject:
    platform_id: str
    subject_id: str
    form: NewBusinessForm
    name: str
    uscc: str | None
    uscc_check: UsccCheck | None
    #: Keyed digest of the ID number (HMAC, as stores keep theirs): compares it without revealing it.
    id_number_mac: str | None
    exemption_declared: bool
    region: str
    region_check: RegionCheck
    handle: str
    url: str | None
    category: str
    version: int


#: Every field but the ids and version, in the order a change names them; the ID number is compared by its digest.
FIELDS: Final = ("form", "name", "uscc", "uscc_check", "exemption_declared", "region", "region_check", "handle", "url", "category")


def _entry(platform_id: str, subject_id: str, form: NewFormSubjectForm, *, on: date, overridden: bool, mac_key: bytes,
           version: int) -> tuple[NewFormSubject, tuple[Issue, ...]]:
    issues = Issues()
    code_check = check_uscc(form.uscc, issues, overridden=overridden) if form.uscc is not None else None
    if form.id_number is not None:
        if not _ID_SHAPE.fullmatch(form.id_number):
            issues.error("id-number-format", "id_number", "id_number must be 17 digits and a digit or X")
        elif not id_number_valid(form.id_number):
            issues.warning("id-number-check-failed", "id_number", "id_number fails its check character; kept and flagged")
    if form.uscc is None:
        if form.id_number is None:
            issues.error("identity-missing", "id_number", "a subject without uscc needs id_number and exemption_declared=true")
        if not form.exemption_declared:
            issues.error("exemption-not-declared", "exemption_declared",
                         "a subject without uscc must declare its exemption (exemption_declared=true)")
    region_check = check_region(form.region, issues, on=on)
    if form.url is not None:
        check_http_url(form.url, issues, "url")
    warnings = issues.settle()
    return NewFormSubject(
        platform_id=platform_id, subject_id=subject_id, form=form.form, name=form.name, uscc=form.uscc, uscc_check=code_check,
        id_number_mac=keyed_digest(mac_key, form.id_number) if form.id_number else None, exemption_declared=form.exemption_declared,
        region=form.region, region_check=region_check, handle=form.handle, url=form.url, category=form.category, version=version,
    ), warnings


def register(platform_id: str, subject_id: str, form: NewFormSubjectForm, *, on: date, overridden: bool,
             mac_key: bytes) -> tuple[NewFormSubject, tuple[Issue, ...]]:
    """The first version of a subject's entry and the warnings to show; :class:`SubjectRefused` naming every error."""
    return _entry(platform_id, subject_id, form, on=on, overridden=overridden, mac_key=mac_key, version=1)


def revise(current: NewFormSubject, form: NewFormSubjectForm, *, on: date, overridden: bool,
           mac_key: bytes) -> tuple[NewFormSubject, list[str], tuple[Issue, ...]]:
    """The entry after ``form`` replaced it, the fields that changed (none: the same version) and the warnings."""
    candidate, warnings = _entry(current.platform_id, current.subject_id, form, on=on, overridden=overridden, mac_key=mac_key,
                                 version=current.version)
    changed = changed_fields(current, candidate, FIELDS)
    if candidate.id_number_mac != current.id_number_mac:
        changed.append("id_number")
    if not changed:
        return current, [], warnings
    return replace(candidate, version=current.version + 1), changed, warnings


def _facts(entry: NewFormSubject) -> dict[str, object]:
    return {"platform_id": entry.platform_id, "subject_id": entry.subject_id, "version": entry.version,
            **{name: getattr(entry, name) for name in FIELDS}}


def registered_event(entry: NewFormSubject) -> NewFormSubjectRegistered:
    return NewFormSubjectRegistered.model_validate(_facts(entry))


def updated_event(entry: NewFormSubject, changed: list[str]) -> NewFormSubjectUpdated:
    return NewFormSubjectUpdated.model_validate(_facts(entry) | {"changed": changed})
