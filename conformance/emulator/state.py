"""The emulator's state, gathered from the modules that hold its parts.

`storage` keeps the objects, `engine` moves runs along their scripts, `steps` and `messages`
build what a run produces, `streams` its server-sent events, `fields` the model's facts they
apply. `Store` is the whole: storage with the engine on top.
"""

from __future__ import annotations

from .apierror import ApiError, not_found
from .engine import RunEngine
from .fields import EXPIRY_SECONDS
from .storage import Run, Thread, ToolCaller

__all__ = ["EXPIRY_SECONDS", "ApiError", "Run", "Store", "Thread", "ToolCaller", "not_found"]

Store = RunEngine
"""All objects of one emulator, and the engine that moves runs along their scripts."""
