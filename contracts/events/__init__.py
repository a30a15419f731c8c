"""One Pydantic model per event type's ``data``; schemas are closed (no extra properties)."""
