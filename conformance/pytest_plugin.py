"""The pytest plugin (registered through the ``pytest11`` entry point): emulated runs as fixtures.

``emulated_run`` gives a test an SDK client wired to a fresh in-process emulator, a thread and a
run following a script, with sleeps on the emulator's virtual clock for the test's duration::

    @pytest.mark.runmodel(script="start+1, require_action(2)+3, start+1, complete+1")
    def test_my_driver(emulated_run):
        run = my_driver(emulated_run.client, emulated_run.thread_id, emulated_run.run_id)
        assert run.status == "completed"
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from .emulator import Emulator
from .sdk import PYTEST_FILTER

__all__ = ["EmulatedRun", "emulated_run", "runmodel_emulator"]


@dataclass(frozen=True, slots=True)
class EmulatedRun:
    """A client, the ids of its thread and run, and the emulator behind them."""

    client: Any
    thread_id: str
    run_id: str
    emulator: Emulator


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, and accept the SDK's Assistants deprecation by its message."""
    config.addinivalue_line(
        "markers",
        "runmodel(script=None, strictness='strict'): the script and strictness of `emulated_run`",
    )
    config.addinivalue_line("filterwarnings", PYTEST_FILTER)


_MARKER_OPTIONS = ("script", "strictness")


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The marker's keyword arguments; a positional or unknown one fails the test's setup, so a
    misspelt ``scirpt=`` cannot silently run the default script."""
    marker = request.node.get_closest_marker("runmodel")
    if marker is None:
        return {}
    known = ", ".join(f"{name}=" for name in _MARKER_OPTIONS)
    if marker.args:
        pytest.fail(
            f"@pytest.mark.runmodel takes keyword arguments only ({known}), "
            f"not {', '.join(map(repr, marker.args))}",
            pytrace=False,
        )
    unknown = [name for name in marker.kwargs if name not in _MARKER_OPTIONS]
    if unknown:
        pytest.fail(
            f"@pytest.mark.runmodel: unknown argument {', '.join(f'{n}=' for n in unknown)}; "
            f"known: {known}",
            pytrace=False,
        )
    return dict(marker.kwargs)


@pytest.fixture
def runmodel_emulator(request: pytest.FixtureRequest) -> Emulator:
    """A fresh emulator at the strictness the ``runmodel`` marker names (default strict)."""
    return Emulator(strictness=_options(request).get("strictness", "strict"))


@pytest.fixture
def emulated_run(
    request: pytest.FixtureRequest, runmodel_emulator: Emulator
) -> Iterator[EmulatedRun]:
    """A run on `runmodel_emulator` following the marker's script (default: the lesson's), with
    ``time.sleep`` and ``asyncio.sleep`` on the virtual clock until the test ends."""
    thread_id, run_id = runmodel_emulator.start_run(_options(request).get("script"))
    with runmodel_emulator.virtual_time():
        yield EmulatedRun(runmodel_emulator.client(), thread_id, run_id, runmodel_emulator)
