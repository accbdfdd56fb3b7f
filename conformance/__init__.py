"""conformance: record, check, emulate and property-test Assistants API runs against the model."""

from __future__ import annotations

from .emulator import Emulator, Script, parse_script
from .harness import ClientCheckFailed, Contract, Counterexample, check_client, play
from .readers import read
from .recorder import Recorder, TraceWriteWarning, record
from .strategies import Scenario, scenarios, scripts

__all__ = [
    "ClientCheckFailed",
    "Contract",
    "Counterexample",
    "Emulator",
    "Recorder",
    "Scenario",
    "Script",
    "TraceWriteWarning",
    "check_client",
    "parse_script",
    "play",
    "read",
    "record",
    "scenarios",
    "scripts",
]
