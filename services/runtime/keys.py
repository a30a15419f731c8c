"""Secrets a service needs at rest: configured in production, made once under var/ in dev and test."""

from __future__ import annotations

import base64
import os
import secrets as _secrets
from pathlib import Path

from cryptography.fernet import Fernet

from services.runtime.settings import SettingsError, SharedSettings, require_real_secret


def dev_secret(shared: SharedSettings, name: str, configured: str | None, *, make: bytes | None = None) -> str:
    """``configured`` when set (checked in production); else a per-checkout random value in var/secrets/."""
    if configured:
        require_real_secret(name, configured, shared)
        return configured
    if shared.env == "production":
        raise SettingsError(f"{name} is required when REDSHIELD_ENV=production")
    path = Path(shared.var_dir) / "secrets" / f"{name.lower()}.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_bytes(make if make is not None else _secrets.token_urlsafe(48).encode())
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)  # the first process wins; every other reads the same key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


class FieldCipher:
    """Authenticated encryption (Fernet: AES-128-CBC + HMAC-SHA256) for personal data at rest."""

    def __init__(self, key: str) -> None:
        raw = key.encode()
        try:
            self._fernet = Fernet(raw)
        except ValueError:
            # A passphrase rather than a Fernet key: derive a key of the right shape from it.
            import hashlib

            self._fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(raw).digest()))

    def encrypt(self, text: str | None) -> bytes | None:
        return None if text is None else self._fernet.encrypt(text.encode())

    def decrypt(self, token: bytes | None) -> str | None:
        return None if token is None else self._fernet.decrypt(token).decode()
