"""What people send bridge over HTTP: the platform registry form and the USCC override."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.events.bridge import PlatformType, RequestScope

Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Reason = Annotated[str, StringConstraints(min_length=5, max_length=2000, strip_whitespace=True)]
PlatformId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")]
UsccText = Annotated[str, StringConstraints(min_length=1, max_length=18, strip_whitespace=True, to_upper=True)]
RegionText = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Closed):
    role: Text = Field(description="e.g. compliance officer, complaint handling, data submissions")
    name: Text
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 -]{5,20}$")]
    email: Annotated[str, StringConstraints(max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")] | None = None


class PlatformForm(_Closed):
    """A regulator registers a platform (``POST /v1/platforms``) or replaces its entry (``PUT``)."""

    name: Text
    uscc: UsccText
    #: Set when the USCC fails its check character but a person confirmed it is genuine (early pilot codes).
    uscc_override_reason: Reason | None = None
    domicile_region: RegionText
    type: PlatformType
    operating_model: Text
    main_categories: list[Text] = Field(default_factory=list, max_length=50)
    contacts: list[Contact] = Field(default_factory=list, max_length=20)
    connected_to_canal: bool = False


class PlatformRegistration(PlatformForm):
    platform_id: PlatformId


class UsccOverride(_Closed):
    """A person confirms that a USCC failing its check character is genuine."""

    uscc: UsccText
    reason: Reason


class DataRequestForm(_Closed):
    """A regulator requests data from a platform (``POST /v1/data-requests``): on what ground, what, by when."""

    platform_id: PlatformId
    legal_basis: Annotated[str, StringConstraints(min_length=5, max_length=500, strip_whitespace=True)] = Field(
        description="The provision the request rests on, e.g. 《网络交易监督管理办法》第二十条")
    scope: RequestScope
    deadline_working_days: int | None = Field(default=None, description="Working days from today (China calendar); or give due")
    due: date | None = Field(default=None, description="Last day to deliver; or give deadline_working_days")
