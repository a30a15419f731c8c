"""The cockpit page's routes, in process (no browser): the page, its two files and nothing else from its folder,
ECharts from node_modules, and a 503 problem saying how to install it when it is missing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services.analytics.web import routes
from services.runtime.http import install_problem_handlers


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_problem_handlers(app)
    routes.install(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://analytics") as client:
        yield client


async def test_the_page_loads_its_own_files_with_a_strict_policy(http: httpx.AsyncClient) -> None:
    page = await http.get("/cockpit")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"  # a ?token= never leaves in a Referer
    for src in ("/cockpit/static/cockpit.js", "/cockpit/static/cockpit.css", "/cockpit/vendor/echarts.min.js"):
        assert src in page.text
    script = await http.get("/cockpit/static/cockpit.js")
    style = await http.get("/cockpit/static/cockpit.css")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert (await http.get("/cockpit/", follow_redirects=False)).headers["location"] == "/cockpit"


@pytest.mark.parametrize("name", ["routes.py", "package.json", "index.html", "..%2Froutes.py", "%2e%2e%2f__init__.py"])
async def test_nothing_else_in_the_folder_is_served(http: httpx.AsyncClient, name: str) -> None:
    answer = await http.get(f"/cockpit/static/{name}")
    assert answer.status_code == 404
    assert "def " not in answer.text and "echarts" not in answer.text


async def test_echarts_comes_from_node_modules(http: httpx.AsyncClient) -> None:
    if not routes.echarts_installed():
        pytest.skip(f"{routes.ECHARTS} is missing: run make setup (npm ci --prefix services/analytics/web)")
    answer = await http.get("/cockpit/vendor/echarts.min.js")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/javascript")
    assert b"echarts" in answer.content[:5000]


async def test_missing_echarts_answers_503_saying_how_to_install_it(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(routes, "ECHARTS", tmp_path / "echarts.min.js")
    answer = await http.get("/cockpit/vendor/echarts.min.js")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 503 and "make setup" in problem["detail"] and "npm" in problem["detail"]


def test_the_package_pins_echarts_and_never_commits_node_modules() -> None:
    import json

    web = Path(routes.__file__).parent
    package = json.loads((web / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((web / "package-lock.json").read_text(encoding="utf-8"))
    pinned = package["dependencies"]["echarts"]
    assert pinned[0].isdigit(), "echarts is pinned to one exact version"
    assert lock["packages"]["node_modules/echarts"]["version"] == pinned
    ignored = (web.parents[2] / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "node_modules/" in ignored
