"""HTTP routes of platform API credentials and of ``POST /v1/token`` (OAuth2 client credentials, RFC 6749 §4.4)."""

from typing import Annotated, Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, StringConstraints

from services.bridge.credential_rules import basic_credentials
from services.bridge.credentials import Credentials, InvalidClient, UnknownCredential, UnknownPlatform, credential_view
from services.bridge.scope import readable
from services.runtime.auth import Caller, Role
from services.runtime.http import Problem, require_role
from services.runtime.service import Service

PROBLEMS = "https://redshield.dev/problems/"
ISSUERS = (Role.REGULATOR, Role.ADMIN)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class RevokeForm(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: Annotated[str, StringConstraints(min_length=4, max_length=500, strip_whitespace=True)]


def _oauth_problem(status: int, error: str, detail: str, field: str | None = None) -> Problem:
    errors = [{"field": field, "message": detail, "type": error}] if field else []
    return Problem(status, "Invalid client" if error == "invalid_client" else "Invalid request", detail, PROBLEMS + error.replace("_", "-"),
                   error=error, errors=errors)


async def _grant_fields(request: Request) -> dict[str, str]:
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json":
        try:
            parsed = orjson.loads(body or b"{}")
        except orjson.JSONDecodeError as exc:
            raise _oauth_problem(400, "invalid_request", f"the body is not JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise _oauth_problem(400, "invalid_request", "the body must be a JSON object")
        return {k: v for k, v in parsed.items() if isinstance(v, str)}
    if kind in ("application/x-www-form-urlencoded", ""):
        return {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
    raise _oauth_problem(415, "invalid_request", "send application/x-www-form-urlencoded (or application/json)")


def build_router(service: Service, credentials: Credentials) -> APIRouter:
    router = APIRouter(prefix="/v1")
    CurrentCaller = Annotated[Caller, Depends(service.current_caller)]

    @router.post("/platforms/{platform_id}/credentials", status_code=201, tags=["credentials"],
                 summary="A regulator issues an API credential for a platform; the secret is shown in this answer only")
    async def issue_credential(platform_id: str, caller: CurrentCaller) -> JSONResponse:
        require_role(caller, *ISSUERS)
        try:
            shown = await credentials.issue(caller=caller, platform_id=platform_id)
        except UnknownPlatform as exc:
            raise Problem(404, "Not found", f"platform {platform_id} is not registered with the bureau") from exc
        return JSONResponse(credential_view(shown.row, shown.secret), status_code=201, headers=NO_STORE)

    @router.get("/platforms/{platform_id}/credentials", tags=["credentials"], summary="A platform's credentials (never their secrets)")
    async def list_credentials(platform_id: str, caller: CurrentCaller) -> dict[str, Any]:
        require_role(caller, *ISSUERS, Role.PLATFORM)
        readable(caller, platform_id)
        async with service.uow() as uow:
            rows = await credentials.listing(uow.conn, platform_id)
        return {"credentials": [credential_view(r) for r in rows]}

    @router.post("/platforms/{platform_id}/credentials/{client_id}/rotate", tags=["credentials"],
                 summary="A regulator gives a credential a new secret (shown once); the old secret stops working at once")
    async def rotate_credential(platform_id: str, client_id: str, caller: CurrentCaller) -> JSONResponse:
        require_role(caller, *ISSUERS)
        try:
            shown = await credentials.rotate(caller=caller, platform_id=platform_id, client_id=client_id)
        except UnknownCredential as exc:
            raise Problem(404, "Not found", f"no active credential {client_id} of platform {platform_id}") from exc
        return JSONResponse(credential_view(shown.row, shown.secret), headers=NO_STORE)

    @router.post("/platforms/{platform_id}/credentials/{client_id}/revoke", tags=["credentials"],
                 summary="A regulator revokes a credential, with the reason; tokens already issued run out on their own")
    async def revoke_credential(platform_id: str, client_id: str, form: RevokeForm, caller: CurrentCaller) -> dict[str, Any]:
        require_role(caller, *ISSUERS)
        try:
            row = await credentials.revoke(caller=caller, platform_id=platform_id, client_id=client_id, reason=form.reason)
        except UnknownCredential as exc:
            raise Problem(404, "Not found", f"no credential {client_id} of platform {platform_id}") from exc
        return credential_view(row)

    @router.post("/token", tags=["credentials"], summary="A platform exchanges its credential for a short-lived bearer token",
                 description="OAuth2 client credentials: grant_type=client_credentials with client_id and client_secret in the "
                             "form body or HTTP Basic. Answers access_token, token_type Bearer, expires_in.")
    async def token(request: Request) -> JSONResponse:
        fields = await _grant_fields(request)
        if fields.get("grant_type") != "client_credentials":
            raise _oauth_problem(400, "unsupported_grant_type", "grant_type must be client_credentials", "grant_type")
        pair = basic_credentials(request.headers.get("authorization", "")) or (fields.get("client_id", ""), fields.get("client_secret", ""))
        client_id, secret = pair
        if not client_id or not secret:
            missing = "client_id" if not client_id else "client_secret"
            raise _oauth_problem(401, "invalid_client", "client_id and client_secret are required", missing)
        try:
            granted = await credentials.exchange(client_id, secret, service.jwt_key, service.shared.jwt_issuer)
        except InvalidClient as exc:
            raise _oauth_problem(401, "invalid_client", "the client id and secret do not match an active credential") from exc
        return JSONResponse({"access_token": granted.access_token, "token_type": "Bearer", "expires_in": granted.expires_in,
                             "platform_id": granted.platform_id}, headers=NO_STORE)

    return router


def install(app: FastAPI, service: Service, credentials: Credentials) -> None:
    app.include_router(build_router(service, credentials))
