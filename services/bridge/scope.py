"""Whose data a caller reaches over HTTP: a platform its own, the bureau's roles every platform's.

A platform naming another platform in a write is refused (403: it named it itself); in a read it is answered as if
that platform had nothing (404), so a token never learns which other platforms or records exist."""

from __future__ import annotations

from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role


def own_platform_only(caller: Caller, platform_id: str, *, verb: str = "sends") -> None:
    """Writes only a platform makes (submissions, reports, store batches): its own, and no other role's."""
    require_role(caller, Role.PLATFORM)
    if caller.platform_id != platform_id:
        raise Problem(403, "Forbidden", f"a platform {verb} only its own data; this token is for {caller.platform_id}")


def writes_for(caller: Caller, platform_id: str, what: str) -> None:
    """Writes a platform or the bureau may make: a platform's only for itself."""
    if caller.role is Role.PLATFORM and caller.platform_id != platform_id:
        raise Problem(403, "Forbidden", f"a platform writes only its own {what}; this token is for {caller.platform_id}")


def may_read(caller: Caller, platform_id: str) -> bool:
    return caller.role is not Role.PLATFORM or caller.platform_id == platform_id


def readable(caller: Caller, platform_id: str) -> None:
    """A platform's data, or 404 for a platform token naming another platform."""
    if not may_read(caller, platform_id):
        raise Problem(404, "Not found", f"no platform {platform_id}")
