"""HTTP edge shared by every service: RFC 9457 problems, auth, body limit, trace ids, health and metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.runtime import metrics
from services.runtime.auth import AuthError, Caller, Role, verify
from services.runtime.logs import trace_id_of, trace_id_var
from services.runtime.metrics import registry

PROBLEM = "application/problem+json"
log = logging.getLogger("redshield.http")


class Problem(Exception):
    """An RFC 9457 problem: raise it from a route, the handler renders it."""

    def __init__(self, status: int, title: str, detail: str | None = None, type_: str = "about:blank", **extra: Any) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type_
        self.extra = extra


def problem_response(status: int, title: str, detail: str | None = None, type_: str = "about:blank", **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(exc.status, exc.title, exc.detail, exc.type, **exc.extra)

    async def on_validation(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
                "message": err.get("msg", ""),
                "type": err.get("type", ""),
            }
            for err in exc.errors()
        ]
        fields = ", ".join(e["field"] or "body" for e in errors)
        return problem_response(
            422, "Invalid request", f"invalid field(s): {fields}", "https://redshield.dev/problems/validation", errors=errors
        )

    async def on_http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(exc.status_code, str(exc.detail) if exc.detail else "HTTP error")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


class BodyLimit:
    """Answers 413 before reading more than ``max_bytes`` of a request body (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(413, "Request body too large", f"the limit is {self.max_bytes} bytes")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class RequestMetrics:
    """Counts and times every request by its route template (``/v1/complaints/{complaint_id}``, never the raw path:
    ids in label values would grow the metrics without end). Requests no route matched count as ``unmatched``."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # if the app raises before answering, the server answers 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = str(scope.get("method", ""))
            metrics.HTTP_REQUESTS.labels(self.service, method, route, str(status)).inc()
            metrics.HTTP_SECONDS.labels(self.service, method, route).observe(time.perf_counter() - started)


class TraceContext:
    """Continues the caller's W3C trace (``traceparent``) or starts one, for logs and outgoing events."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            incoming = dict(scope.get("headers", ())).get(b"traceparent")
            trace_id_var.set(trace_id_of(incoming.decode()) if incoming else None)
        await self.app(scope, receive, send)


def caller_dependency(key: str, issuer: str) -> Callable[[Request], Awaitable[Caller]]:
    async def current_caller(request: Request) -> Caller:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Problem(401, "Unauthorized", "a bearer token is required")
        try:
            return verify(key, token.strip(), issuer)
        except AuthError as exc:
            raise Problem(401, "Unauthorized", f"invalid token: {exc}") from exc

    return current_caller


def require_role(caller: Caller, *roles: Role) -> None:
    if caller.role not in roles:
        raise Problem(403, "Forbidden", f"role {caller.role.value} may not do this; needs one of {', '.join(r.value for r in roles)}")


def install_ops_routes(app: FastAPI, ready_checks: dict[str, Callable[[], Awaitable[None]]]) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> Response:
        results: dict[str, str] = {}
        ok = True
        for name, check in ready_checks.items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:  # each failed dependency is reported by name, not raised
                ok = False
                results[name] = f"unreachable: {type(exc).__name__}: {exc}"[:300]
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": results}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
