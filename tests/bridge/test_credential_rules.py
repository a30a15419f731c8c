"""Credential secrets: only a salted scrypt hash is kept, and only the very secret matches it."""

from __future__ import annotations

import base64

from services.bridge.credential_rules import CLIENT_ID_PREFIX, basic_credentials, matches, mint


def test_a_minted_secret_matches_its_hash_and_nothing_else_does() -> None:
    minted = mint()
    assert minted.client_id.startswith(CLIENT_ID_PREFIX) and minted.secret.encode() not in minted.digest
    assert matches(minted.secret, minted.salt, minted.digest)
    assert not matches(minted.secret[:-1] + ("A" if minted.secret[-1] != "A" else "B"), minted.salt, minted.digest)
    assert not matches(minted.secret, minted.salt + b"x", minted.digest)


def test_two_credentials_never_share_a_secret_or_a_salt() -> None:
    a, b = mint(), mint()
    assert a.secret != b.secret and a.salt != b.salt and a.client_id != b.client_id


def test_an_unknown_client_never_matches_even_an_empty_hash() -> None:
    assert not matches("anything", None, None)


def test_http_basic_carries_the_client_id_and_secret() -> None:
    header = "Basic " + base64.b64encode(b"pc_1:s3cr:et").decode()
    assert basic_credentials(header) == ("pc_1", "s3cr:et")
    assert basic_credentials("Basic !!!") is None and basic_credentials("Bearer x") is None
