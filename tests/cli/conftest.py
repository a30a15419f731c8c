"""The bridge fixtures `redshield submit` is tested against."""

from tests.bridge.conftest import small_batches

__all__ = ["small_batches"]
