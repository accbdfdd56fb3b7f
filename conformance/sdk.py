"""Facts about the installed openai SDK, and the one place its Assistants deprecation is filtered.

The SDK marks every Assistants method deprecated (openai 2.x and 3.x). runmodel exists to test
code written against that API, so the kit silences exactly those warnings, by message, only
around the calls it makes or runs; nothing is ignored globally.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import warnings
from collections.abc import Iterator
from types import ModuleType

import openai

__all__ = [
    "ASSISTANTS_DEPRECATION",
    "MIN_SDK",
    "PYTEST_FILTER",
    "http_module",
    "quiet_assistants_deprecation",
    "sdk_major",
    "sdk_version",
]

ASSISTANTS_DEPRECATION = (
    r"(The Assistants API is deprecated in favor of the Responses API|deprecated)\Z"
)
"""The messages of the SDK's Assistants deprecations (``assistants.*`` says only "deprecated")."""

PYTEST_FILTER = f"ignore:{ASSISTANTS_DEPRECATION}:DeprecationWarning"
"""The same filter as a pytest ``filterwarnings`` line, for test suites that use the kit."""


MIN_SDK = (1, 21)
"""The first openai SDK with the v2 Assistants API the kit drives (``runs.poll``, ``stream``)."""


def sdk_version() -> tuple[int, int]:
    """The installed openai SDK's (major, minor) version."""
    found = re.match(r"(\d+)(?:\.(\d+))?", openai.__version__)
    if found is None:  # pragma: no cover - every release is numbered
        return (0, 0)
    return int(found[1]), int(found[2] or 0)


def sdk_major() -> int:
    """The installed openai SDK's major version."""
    return int(openai.__version__.split(".", 1)[0])


def http_module() -> ModuleType:
    """The HTTP library the installed SDK is built on: ``httpx2`` for 3.x, ``httpx`` for 1.x/2.x."""
    return importlib.import_module("httpx2" if sdk_major() >= 3 else "httpx")


@contextlib.contextmanager
def quiet_assistants_deprecation() -> Iterator[None]:
    """Within the block, the SDK's Assistants deprecation warnings are not shown."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message=ASSISTANTS_DEPRECATION, category=DeprecationWarning
        )
        yield
