"""conformance: record, check, emulate and property-test Assistants API runs against the model.

Names are imported on first use, so that ``runmodel --help`` and ``runmodel serve`` do not pay
for Hypothesis and the harness.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .emulator import Emulator, Script, parse_script
    from .harness import (
        CannotCheck,
        CheckInterrupted,
        ClientCheckFailed,
        Contract,
        Counterexample,
        check_client,
        play,
        play_all,
    )
    from .readers import read
    from .recorder import Recorder, TraceWriteWarning, record
    from .strategies import (
        Scenario,
        event_sequences,
        mutated_traces,
        run_objects,
        run_view_machine,
        scenarios,
        scripts,
        traces,
    )

_WHERE = {
    "Emulator": "emulator",
    "Script": "emulator",
    "parse_script": "emulator",
    "CannotCheck": "harness",
    "CheckInterrupted": "harness",
    "ClientCheckFailed": "harness",
    "Contract": "harness",
    "Counterexample": "harness",
    "check_client": "harness",
    "play": "harness",
    "play_all": "harness",
    "read": "readers",
    "Recorder": "recorder",
    "TraceWriteWarning": "recorder",
    "record": "recorder",
    "Scenario": "strategies",
    "event_sequences": "strategies",
    "mutated_traces": "strategies",
    "run_objects": "strategies",
    "run_view_machine": "strategies",
    "scenarios": "strategies",
    "scripts": "strategies",
    "traces": "strategies",
}

__all__ = [
    "CannotCheck",
    "CheckInterrupted",
    "ClientCheckFailed",
    "Contract",
    "Counterexample",
    "Emulator",
    "Recorder",
    "Scenario",
    "Script",
    "TraceWriteWarning",
    "check_client",
    "event_sequences",
    "mutated_traces",
    "parse_script",
    "play",
    "play_all",
    "read",
    "record",
    "run_objects",
    "run_view_machine",
    "scenarios",
    "scripts",
    "traces",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is asked for."""
    if name not in _WHERE:
        raise AttributeError(f"module 'conformance' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value
