"""The former name of `conformance.sdk`, kept so that older imports keep working."""

from __future__ import annotations

from .sdk import (
    ASSISTANTS_DEPRECATION,
    MIN_SDK,
    PYTEST_FILTER,
    http_module,
    quiet_assistants_deprecation,
    sdk_major,
    sdk_version,
)

__all__ = [
    "ASSISTANTS_DEPRECATION",
    "MIN_SDK",
    "PYTEST_FILTER",
    "http_module",
    "quiet_assistants_deprecation",
    "sdk_major",
    "sdk_version",
]
