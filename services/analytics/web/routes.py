"""Serves the cockpit page: ``/cockpit`` (HTML), ``/cockpit/static/<file>`` (its JS and CSS) and
``/cockpit/vendor/echarts.min.js`` (Apache ECharts, installed from the npm registry by ``make setup``).

The page holds no data of its own: it calls the cockpit API with the bearer token the user gives it, so these
routes need no token. The ECharts file is never committed; when it is missing the vendor route answers 503
with a problem document saying how to install it, and the page shows that message instead of empty charts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse, Response

from services.runtime.http import problem_response

WEB: Final = Path(__file__).resolve().parent
ECHARTS: Final = WEB / "node_modules" / "echarts" / "dist" / "echarts.min.js"
#: The only files /cockpit/static/ serves, with their media types: nothing else in the folder is reachable.
STATIC: Final[dict[str, str]] = {
    "cockpit.js": "text/javascript; charset=utf-8",
    "cockpit.css": "text/css; charset=utf-8",
}
MISSING_ECHARTS: Final = (
    "Apache ECharts is not installed: run make setup (npm install: `npm ci --prefix services/analytics/web`), "
    "which puts it at services/analytics/web/node_modules/echarts/dist/echarts.min.js."
)

#: The page loads only its own files and talks only to this origin; the token never leaves in a Referer.
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def echarts_installed() -> bool:
    return ECHARTS.is_file()


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/cockpit")
    async def page() -> Response:
        return FileResponse(WEB / "index.html", media_type="text/html; charset=utf-8", headers=_PAGE_HEADERS)

    @router.get("/cockpit/")
    async def page_with_slash() -> Response:
        return RedirectResponse("/cockpit", status_code=308)

    @router.get("/cockpit/static/{name}")
    async def static(name: str) -> Response:
        media_type = STATIC.get(name)
        if media_type is None:
            return problem_response(404, "Not found", f"no cockpit file {name!r}")
        return FileResponse(WEB / name, media_type=media_type, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})

    @router.get("/cockpit/vendor/echarts.min.js")
    async def echarts() -> Response:
        if not echarts_installed():
            return problem_response(503, "Cockpit page dependency missing", MISSING_ECHARTS)
        return FileResponse(
            ECHARTS,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    return router


def install(app: FastAPI) -> None:
    """Mount the cockpit page on the analytics app."""
    app.include_router(build_router())
