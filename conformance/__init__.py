"""conformance: record, check, emulate and property-test Assistants API runs against the model."""

from __future__ import annotations

__all__: list[str] = []
