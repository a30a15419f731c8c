"""bridge wiring. Its use cases (platform registry, subjects, submissions) arrive with their issue."""

from __future__ import annotations

from fastapi import FastAPI

from services.runtime.clock import Clock
from services.runtime.service import Service
from services.runtime.settings import ServiceSettings, load


def build(settings: ServiceSettings | None = None, *, clock: Clock | None = None, db_schema: str | None = None) -> tuple[Service, FastAPI]:
    service = Service(settings or load("bridge"), clock=clock, db_schema=db_schema)
    return service, service.app(title="redshield bridge (红盾云桥)", description="Government–platform data exchange.")
