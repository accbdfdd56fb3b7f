"""The emulator's endpoints, one module per family, gathered in one `RouteTable`.

Each module fills its own ``routes`` table with decorated handlers; `ROUTES` joins them. A new
family of endpoints (another lifecycle) is a new module here, added to `MODULES`.
"""

from __future__ import annotations

from ..routing import RouteTable
from . import assistants, messages, responses, runs, steps, threads

__all__ = ["MODULES", "ROUTES"]

MODULES = (assistants, threads, messages, runs, steps, responses)
"""The modules whose routes the emulator answers."""

ROUTES = RouteTable(*(module.routes for module in MODULES))
"""Every route of every module in `MODULES`."""
