"""collab wiring. Its use cases (assistance requests, disposals) arrive with their issue."""

from __future__ import annotations

from fastapi import FastAPI

from services.runtime.clock import Clock
from services.runtime.service import Service
from services.runtime.settings import ServiceSettings, load


def build(settings: ServiceSettings | None = None, *, clock: Clock | None = None, db_schema: str | None = None) -> tuple[Service, FastAPI]:
    service = Service(settings or load("collab"), clock=clock, db_schema=db_schema)
    return service, service.app(title="redshield collab (异地协作网络)", description="Assistance between regional bureaus.")
