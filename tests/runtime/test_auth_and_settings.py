"""Tokens carry a role and a scope; secrets are never placeholders outside dev."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest

from services.runtime.auth import AuthError, Role, issue, signing_key, verify
from services.runtime.keys import dev_secret
from services.runtime.settings import SettingsError, SharedSettings, load

KEY = "k" * 40


def test_a_platform_token_carries_its_platform() -> None:
    caller = verify(KEY, issue(KEY, role=Role.PLATFORM, subject="p", platform_id="P001"))
    assert caller.role is Role.PLATFORM and caller.platform_id == "P001"


def test_a_bureau_token_carries_its_region() -> None:
    caller = verify(KEY, issue(KEY, role=Role.BUREAU, subject="b", region="330100"))
    assert caller.region == "330100"


@pytest.mark.parametrize(("role", "scope"), [(Role.PLATFORM, {}), (Role.BUREAU, {})])
def test_a_scoped_role_needs_its_scope(role: Role, scope: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        issue(KEY, role=role, subject="x", **scope)


def test_an_expired_token_is_refused() -> None:
    token = jwt.encode({"sub": "x", "role": "regulator", "iss": "redshield", "exp": int(time.time()) - 5}, KEY, algorithm="HS256")
    with pytest.raises(AuthError):
        verify(KEY, token)


def test_a_token_with_an_unknown_role_is_refused() -> None:
    token = jwt.encode({"sub": "x", "role": "emperor", "iss": "redshield", "exp": int(time.time()) + 60}, KEY, algorithm="HS256")
    with pytest.raises(AuthError):
        verify(KEY, token)


def test_a_platform_claim_forged_without_the_key_is_refused() -> None:
    token = issue("another-key-another-key-another-key-0000", role=Role.PLATFORM, subject="x", platform_id="P001")
    with pytest.raises(AuthError):
        verify(KEY, token)


def test_dev_mode_makes_one_key_under_var_and_reuses_it(tmp_path: Path) -> None:
    shared = SharedSettings(env="dev", var_dir=tmp_path)
    first = signing_key(shared)
    assert first == signing_key(shared)
    assert (tmp_path / "secrets" / "redshield_jwt_secret.key").stat().st_mode & 0o077 == 0
    assert len(first) >= 32


def test_production_refuses_a_missing_signing_key(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="REDSHIELD_JWT_SECRET"):
        signing_key(SharedSettings(env="production", var_dir=tmp_path))


@pytest.mark.parametrize("placeholder", ["change-me", "secret", "short-but-real"])
def test_production_refuses_a_placeholder_or_short_secret(tmp_path: Path, placeholder: str) -> None:
    with pytest.raises(SettingsError):
        dev_secret(SharedSettings(env="production", var_dir=tmp_path), "REDSHIELD_CHANNEL_PII_KEY", placeholder)


def test_production_accepts_a_real_secret(tmp_path: Path) -> None:
    real = "x7Gq2v9LmP4sT8wZ1bN5cR3dF6hJ0kYe"
    assert dev_secret(SharedSettings(env="production", var_dir=tmp_path), "REDSHIELD_JWT_SECRET", real) == real


def test_each_service_reads_its_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDSHIELD_CHANNEL_PORT", "9102")
    monkeypatch.setenv("REDSHIELD_BRIDGE_DATABASE_URL", "postgresql+asyncpg://u:p@h/bridge")
    assert load("channel").port == 9102
    assert load("bridge").port == 8101
    assert load("bridge").database_url.startswith("postgresql")
    assert load("channel").database_url.startswith("sqlite+aiosqlite:///")


def test_an_unknown_service_is_refused() -> None:
    with pytest.raises(SettingsError):
        load("billing")
