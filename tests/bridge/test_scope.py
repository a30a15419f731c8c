"""A platform reaches only its own data: writes naming another platform are refused, reads of it find nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.bridge.scope import may_read, own_platform_only, readable, writes_for
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem

P001 = Caller(subject="platform:P001", role=Role.PLATFORM, platform_id="P001")
REGULATOR = Caller(subject="regulator:r1", role=Role.REGULATOR)


def _status(check: Callable[..., None], *args: object) -> int | None:
    try:
        check(*args)
    except Problem as problem:
        return problem.status
    return None


def test_a_platform_writes_its_own_data_and_is_refused_for_another_platform() -> None:
    assert _status(own_platform_only, P001, "P001") is None
    assert _status(own_platform_only, P001, "P002") == 403
    assert _status(writes_for, P001, "P001", "subjects") is None
    assert _status(writes_for, P001, "P002", "subjects") == 403


def test_writes_only_a_platform_makes_are_refused_to_the_bureau_and_others_are_not() -> None:
    assert _status(own_platform_only, REGULATOR, "P001") == 403
    assert _status(writes_for, REGULATOR, "P001", "subjects") is None


@pytest.mark.parametrize("caller", [REGULATOR, Caller(subject="auditor:a1", role=Role.AUDITOR)])
def test_the_bureau_reads_every_platform(caller: Caller) -> None:
    assert may_read(caller, "P002")
    assert _status(readable, caller, "P002") is None


def test_another_platforms_data_reads_as_if_there_were_none() -> None:
    assert may_read(P001, "P001")
    assert not may_read(P001, "P002")
    assert _status(readable, P001, "P002") == 404
