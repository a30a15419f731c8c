"""Enterprise websites' rules: the operator's code checked like a store's, the domain in one form, the ICP filing number
shaped like one, every error named at once, and a change of anything a new version."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from contracts.events.bridge import RegionCheck, UsccCheck, WebsiteStatus
from services.bridge.subject_rules import SubjectRefused
from services.bridge.validation import Severity
from services.bridge.website_rules import WebsiteForm, normalise_domain, normalise_icp_filing, register, revise

ON = date(2026, 4, 7)
PILOT = "91330110MA27XL0Q10"  # fails its check character, as some genuine early pilot codes do
FORM: dict[str, Any] = {
    "operator_name": "杭州西湖茶叶有限公司", "uscc": "91330106MA2H0C3T5D", "domain": "xihutea.com.cn",
    "url": "https://www.xihutea.com.cn/shop", "icp_filing": "浙ICP备12345678号-1", "region": "330106", "category": "食品",
}


def form(**change: Any) -> WebsiteForm:
    return WebsiteForm.model_validate(FORM | change)


def refusal(**change: Any) -> SubjectRefused:
    with pytest.raises(SubjectRefused) as caught:
        register("W1", form(**change), on=ON, overridden=False)
    return caught.value


def test_a_well_formed_website_is_version_1_active_and_valid() -> None:
    entry, warnings = register("W1", form(), on=ON, overridden=False)
    assert warnings == ()
    assert (entry.version, entry.status, entry.uscc_check, entry.region_check) == (1, WebsiteStatus.ACTIVE, UsccCheck.VALID, RegionCheck.VALID)


@pytest.mark.parametrize(("given", "kept"), [
    ("浙ICP备12345678号", "浙ICP备12345678号"),
    ("浙ICP备12345678号-1", "浙ICP备12345678号-1"),
    ("粤ICP备2021012345号", "粤ICP备2021012345号"),
    ("京ICP证030173号", "京ICP证030173号"),
    (" 浙 icp 备１２３４５６７８号－2 ", "浙ICP备12345678号-2"),  # full-width digits and dash, spaces, lower case
])
def test_an_icp_filing_number_is_kept_in_one_form(given: str, kept: str) -> None:
    assert normalise_icp_filing(given) == kept
    entry, _ = register("W1", form(icp_filing=given), on=ON, overridden=False)
    assert entry.icp_filing == kept


@pytest.mark.parametrize("given", ["12345678", "ICP备12345678号", "浙ICP备12345678", "X ICP备12345678号", "浙ICP备123号", "浙ICP备12345678号-"])
def test_something_that_is_not_an_icp_filing_number_is_refused(given: str) -> None:
    (error,) = refusal(icp_filing=given).errors
    assert (error.code, error.field) == ("icp-filing-format", "icp_filing")


def test_a_chinese_domain_is_kept_in_its_idna_form_and_one_with_a_scheme_or_one_label_is_refused() -> None:
    assert normalise_domain("西湖茶.中国") == "xn--n7w685b4re.xn--fiqs8s"
    assert normalise_domain("WWW.XihuTea.com.cn.") == "www.xihutea.com.cn"
    for bad in ("https://xihutea.com.cn", "xihutea", "xihu tea.com", "-x.com", "x.123"):
        assert normalise_domain(bad) is None, bad
    assert refusal(domain="https://xihutea.com.cn", url=None).errors[0].code == "domain-format"


def test_the_url_must_be_on_the_domain_or_a_subdomain_of_it() -> None:
    assert register("W1", form(url="http://xihutea.com.cn"), on=ON, overridden=False)[0].url == "http://xihutea.com.cn"
    assert refusal(url="https://xihutea.com.cn.evil.example/").errors[0].code == "url-off-domain"
    assert refusal(url="https://notxihutea.com.cn/").errors[0].code == "url-off-domain"
    assert refusal(url="ftp://xihutea.com.cn/").errors[0].code == "url-format"


def test_a_failing_uscc_is_kept_and_flagged_unless_a_person_confirmed_it_and_a_malformed_one_is_refused() -> None:
    entry, warnings = register("W1", form(uscc=PILOT), on=ON, overridden=False)
    assert entry.uscc_check is UsccCheck.CHECK_FAILED
    assert [(w.severity, w.code, w.field) for w in warnings] == [(Severity.WARNING, "uscc-check-failed", "uscc")]
    confirmed, none = register("W1", form(uscc=PILOT), on=ON, overridden=True)
    assert (confirmed.uscc_check, none) == (UsccCheck.OVERRIDDEN, ())
    assert refusal(uscc="91330106MA2H0C3T5").errors[0].code == "uscc-format"


def test_a_region_is_checked_for_the_day_and_one_the_table_cannot_confirm_is_kept_unverified() -> None:
    assert refusal(region="330104").errors[0].code == "region-invalid"  # 江干区, merged away in 2021
    entry, warnings = register("W1", form(region="441900"), on=ON, overridden=False)
    assert (entry.region_check, warnings) == (RegionCheck.UNVERIFIED, ())


def test_every_error_is_named_at_once() -> None:
    refused = refusal(uscc="X", domain="xihutea", icp_filing="备案中", region="990000")
    assert [e.field for e in refused.errors] == ["uscc", "domain", "icp_filing", "region"]


def test_the_same_form_again_is_the_same_version_and_a_change_is_the_next_naming_what_changed() -> None:
    current, _ = register("W1", form(), on=ON, overridden=False)
    same, changed, _ = revise(current, form(icp_filing="浙 ICP备12345678号-1"), on=ON, overridden=False)
    assert (same, changed) == (current, [])
    suspended, changed, _ = revise(current, form(status="suspended", region="330110"), on=ON, overridden=False)
    assert (suspended.version, suspended.status, changed) == (2, WebsiteStatus.SUSPENDED, ["region", "status"])
