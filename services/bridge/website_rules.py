"""Pure rules of enterprise websites (企业网站): enterprises registered with the bureau that sell online through their own
site rather than a platform. A regulator or a bureau registers and changes them; each change is a new version.

The operator's USCC is checked like a store's (a failing check character is a flagged warning, not a refusal); the
domain is kept in its IDNA (ASCII) form so 西湖茶.中国 and xn--n7w685b4re.xn--fiqs8s are one site; the ICP filing
number (备案号) must look like one: a province's one-character abbreviation, ``ICP备`` (or ``ICP证`` for a licence),
the digits, ``号`` and an optional site suffix ``-n``. No I/O here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.events.bridge import RegionCheck, UsccCheck, WebsiteRegistered, WebsiteStatus, WebsiteUpdated
from services.bridge.subject_rules import Issue, Issues, changed_fields, check_http_url, check_region, check_uscc

#: The one-character abbreviations of the 31 provincial-level divisions whose communications administrations file sites.
PROVINCE_ABBREVIATIONS: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
ICP_FILING: Final = re.compile(rf"[{PROVINCE_ABBREVIATIONS}]ICP[备证][0-9]{{4,12}}号(-[0-9]{{1,4}})?")
_LABEL: Final = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_TLD: Final = re.compile(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}")

Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
WebsiteId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class WebsiteForm(BaseModel):
    """A website's entry as a regulator sends it (``PUT /v1/websites/{website_id}`` replaces it whole)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    operator_name: Text
    uscc: Annotated[str, StringConstraints(min_length=1, max_length=18, strip_whitespace=True, to_upper=True)]
    domain: Annotated[str, StringConstraints(min_length=1, max_length=253, strip_whitespace=True)] = Field(
        description="The filed domain, without scheme or path, e.g. xihutea.com.cn")
    url: Annotated[str, StringConstraints(min_length=1, max_length=1000, strip_whitespace=True)] | None = Field(
        default=None, description="The home page, on the domain or a subdomain of it")
    icp_filing: Annotated[str, StringConstraints(min_length=1, max_length=40)] = Field(description="e.g. 浙ICP备12345678号-1")
    region: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    category: Text
    status: WebsiteStatus = WebsiteStatus.ACTIVE


class WebsiteRegistration(WebsiteForm):
    website_id: WebsiteId


@dataclass(frozen=True, slots=True)
class WebsiteEntry:
    website_id: str
    operator_name: str
    uscc: str
    uscc_check: UsccCheck
    domain: str
    url: str | None
    icp_filing: str
    region: str
    region_check: RegionCheck
    category: str
    status: WebsiteStatus
    version: int


#: Every field of an entry but its id and version, in the order a change names them.
FIELDS: Final = ("operator_name", "uscc", "uscc_check", "domain", "url", "icp_filing", "region", "region_check", "category", "status")


def normalise_icp_filing(text: str) -> str:
    """Full-width digits and dashes folded (NFKC), spaces dropped, ``icp`` upper case: 浙 icp 备１２３号－1 → 浙ICP备123号-1."""
    folded = "".join(unicodedata.normalize("NFKC", text).split())
    return re.sub("icp", "ICP", folded, flags=re.IGNORECASE)


def normalise_domain(text: str) -> str | None:
    """The domain in lower-case IDNA form, or None when it is not a domain name."""
    name = text.strip().lower().rstrip(".")
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return ascii_name if _TLD.fullmatch(labels[-1]) else None


def _entry(website_id: str, form: WebsiteForm, *, on: date, overridden: bool, version: int) -> tuple[WebsiteEntry, tuple[Issue, ...]]:
    issues = Issues()
    code_check = check_uscc(form.uscc, issues, overridden=overridden)
    domain = normalise_domain(form.domain)
    if domain is None:
        issues.error("domain-format", "domain", f"{form.domain!r} is not a domain name; give the bare name, e.g. xihutea.com.cn")
    if form.url is not None:
        host = check_http_url(form.url, issues, "url")
        if host is not None and domain is not None:
            host_ascii = normalise_domain(host)
            if host_ascii != domain and not (host_ascii or "").endswith("." + domain):
                issues.error("url-off-domain", "url", f"the url's host {host} is not {domain} nor a subdomain of it")
    icp = normalise_icp_filing(form.icp_filing)
    if not ICP_FILING.fullmatch(icp):
        issues.error("icp-filing-format", "icp_filing",
                     f"{form.icp_filing!r} is not an ICP filing number: a province's abbreviation, ICP备 (or ICP证), the digits, 号 "
                     "and an optional -n, e.g. 浙ICP备12345678号-1")
    region_check = check_region(form.region, issues, on=on)
    warnings = issues.settle()
    assert code_check is not None and domain is not None
    return WebsiteEntry(
        website_id=website_id, operator_name=form.operator_name, uscc=form.uscc, uscc_check=code_check, domain=domain, url=form.url,
        icp_filing=icp, region=form.region, region_check=region_check, category=form.category, status=form.status, version=version,
    ), warnings


def register(website_id: str, form: WebsiteForm, *, on: date, overridden: bool) -> tuple[WebsiteEntry, tuple[Issue, ...]]:
    """The first version of a website's entry and the warnings to show; :class:`SubjectRefused` naming every error."""
    return _entry(website_id, form, on=on, overridden=overridden, version=1)


def revise(current: WebsiteEntry, form: WebsiteForm, *, on: date,
           overridden: bool) -> tuple[WebsiteEntry, list[str], tuple[Issue, ...]]:
    """The entry after ``form`` replaced it, the fields that changed (none: the same version) and the warnings."""
    candidate, warnings = _entry(current.website_id, form, on=on, overridden=overridden, version=current.version)
    changed = changed_fields(current, candidate, FIELDS)
    if not changed:
        return current, [], warnings
    return replace(candidate, version=current.version + 1), changed, warnings


def _facts(entry: WebsiteEntry) -> dict[str, object]:
    return {"website_id": entry.website_id, "version": entry.version, **{name: getattr(entry, name) for name in FIELDS}}


def registered_event(entry: WebsiteEntry) -> WebsiteRegistered:
    return WebsiteRegistered.model_validate(_facts(entry))


def updated_event(entry: WebsiteEntry, changed: list[str]) -> WebsiteUpdated:
    return WebsiteUpdated.model_validate(_facts(entry) | {"changed": changed})
