"""Which module builds each service."""

from __future__ import annotations

import importlib
from typing import Any

from fastapi import FastAPI

from services.runtime.service import Service


def build(service: str, **kwargs: Any) -> tuple[Service, FastAPI]:
    module = importlib.import_module(f"services.{service}.app")
    built: tuple[Service, FastAPI] = module.build(**kwargs)
    return built
