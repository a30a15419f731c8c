"""Platform API credentials on the real databases: issued by a regulator with the secret shown once, exchanged at
/v1/token for a platform JWT that works on the platform's own data only; rotated and revoked secrets stop working."""

from __future__ import annotations

import base64
from typing import Any

import sqlalchemy as sa

from services.bridge.store import audit, platform_credentials
from tests.bridge.conftest import register
from tests.harness import Running

PROBLEM = "application/problem+json"


async def exchange(svc: Running, client_id: str, secret: str) -> Any:
    return await svc.http.post("/v1/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})


async def issue(svc: Running, platform: str = "P001") -> dict[str, Any]:
    answer = await svc.http.post(f"/v1/platforms/{platform}/credentials", headers=svc.auth("regulator"))
    assert answer.status_code == 201, answer.text
    assert answer.headers["cache-control"] == "no-store"
    return dict(answer.json())


async def rows(svc: Running, stmt: Any) -> list[dict[str, Any]]:
    assert svc.service.engine is not None
    async with svc.service.engine.connect() as conn:
        return [dict(r._mapping) for r in await conn.execute(stmt)]


async def test_an_issued_credential_becomes_a_short_lived_token_for_the_platforms_own_data(bridge: Running) -> None:
    await register(bridge)
    await register(bridge, platform_id="P002", uscc="91330110MA27XL0Q17")
    credential = await issue(bridge)
    granted = await exchange(bridge, credential["client_id"], credential["client_secret"])
    assert granted.status_code == 200, granted.text
    body = granted.json()
    assert (body["token_type"], body["expires_in"], body["platform_id"]) == ("Bearer", 900, "P001")
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    assert (await bridge.http.get("/v1/platforms/P001", headers=bearer)).status_code == 200
    assert (await bridge.http.get("/v1/platforms/P002", headers=bearer)).status_code == 404
    # HTTP Basic works as well as the form fields (RFC 6749 §2.3.1).
    basic = base64.b64encode(f"{credential['client_id']}:{credential['client_secret']}".encode()).decode()
    assert (await bridge.http.post("/v1/token", data={"grant_type": "client_credentials"},
                                   headers={"Authorization": f"Basic {basic}"})).status_code == 200

    (stored,) = await rows(bridge, sa.select(platform_credentials))
    assert credential["client_secret"].encode() not in stored["secret_hash"] and len(stored["secret_hash"]) == 32
    listing = (await bridge.http.get("/v1/platforms/P001/credentials", headers=bearer)).json()["credentials"]
    assert [c["client_id"] for c in listing] == [credential["client_id"]] and "client_secret" not in listing[0]
    assert listing[0]["last_used_at"] is not None


async def test_a_wrong_secret_or_unknown_client_is_401_problem(bridge: Running) -> None:
    await register(bridge)
    credential = await issue(bridge)
    for client_id, secret in ((credential["client_id"], credential["client_secret"] + "x"), ("pc_unknown", credential["client_secret"]),
                              (credential["client_id"], "")):
        answer = await exchange(bridge, client_id, secret)
        assert answer.status_code == 401 and answer.headers["content-type"] == PROBLEM
        assert answer.json()["error"] == "invalid_client"
    wrong_grant = await bridge.http.post("/v1/token", data={"grant_type": "password", "client_id": "a", "client_secret": "b"})
    assert wrong_grant.status_code == 400 and wrong_grant.json()["errors"][0]["field"] == "grant_type"


async def test_a_rotated_secret_replaces_the_old_one_and_a_revoked_credential_is_refused(bridge: Running) -> None:
    await register(bridge)
    credential = await issue(bridge)
    base = f"/v1/platforms/P001/credentials/{credential['client_id']}"
    rotated = await bridge.http.post(f"{base}/rotate", headers=bridge.auth("regulator"))
    assert rotated.status_code == 200 and rotated.json()["client_secret"] != credential["client_secret"]
    assert (await exchange(bridge, credential["client_id"], credential["client_secret"])).status_code == 401
    assert (await exchange(bridge, credential["client_id"], rotated.json()["client_secret"])).status_code == 200

    revoked = await bridge.http.post(f"{base}/revoke", json={"reason": "平台更换对接系统"}, headers=bridge.auth("regulator"))
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert (await exchange(bridge, credential["client_id"], rotated.json()["client_secret"])).status_code == 401
    assert (await bridge.http.post(f"{base}/rotate", headers=bridge.auth("regulator"))).status_code == 404

    actions = await rows(bridge, sa.select(audit.c.action, audit.c.actor, audit.c.detail).where(audit.c.action.startswith("credential."))
                         .order_by(audit.c.id))
    assert [a["action"] for a in actions] == ["credential.issued", "credential.rotated", "credential.revoked"]
    assert actions[-1]["detail"]["reason"] == "平台更换对接系统" and all(a["actor"] == "test:regulator" for a in actions)


async def test_only_regulators_issue_rotate_and_revoke(bridge: Running) -> None:
    await register(bridge)
    platform = bridge.auth("platform", platform="P001")
    assert (await bridge.http.post("/v1/platforms/P001/credentials", headers=platform)).status_code == 403
    assert (await bridge.http.post("/v1/platforms/P404/credentials", headers=bridge.auth("regulator"))).status_code == 404
    credential = await issue(bridge)
    base = f"/v1/platforms/P001/credentials/{credential['client_id']}"
    assert (await bridge.http.post(f"{base}/revoke", json={"reason": "自行撤销"}, headers=platform)).status_code == 403
    assert (await bridge.http.get("/v1/platforms/P001/credentials", headers=bridge.auth("platform", platform="P002"))).status_code == 404
