"""The pytest plugin: an emulated run as a fixture, scripted by a marker, on virtual time."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from conformance.pytest_plugin import EmulatedRun


@pytest.mark.runmodel(script="start+1, require_action(2)+3, start+1, complete+1")
def test_emulated_run_follows_the_markers_script(emulated_run: EmulatedRun) -> None:
    runs = emulated_run.client.beta.threads.runs
    run = runs.poll(emulated_run.run_id, thread_id=emulated_run.thread_id)
    assert run.status == "requires_action"
    calls = run.required_action.submit_tool_outputs.tool_calls
    assert len(calls) == 2
    run = runs.submit_tool_outputs_and_poll(
        run_id=run.id,
        thread_id=emulated_run.thread_id,
        tool_outputs=[{"tool_call_id": c.id, "output": "42"} for c in calls],
    )
    assert run.status == "completed"


def test_sleeps_are_virtual_for_the_whole_test(emulated_run: EmulatedRun) -> None:
    before = emulated_run.emulator.clock.now()
    time.sleep(3600)  # an hour of virtual time, no real waiting
    assert emulated_run.emulator.clock.now() - before == pytest.approx(3600)
    run = emulated_run.client.beta.threads.runs.retrieve(
        emulated_run.run_id, thread_id=emulated_run.thread_id
    )
    assert run.status in ("completed", "requires_action", "expired")  # the default script ran


@pytest.mark.runmodel(script="start+1, fail(server_error)+1", strictness="permissive")
def test_the_marker_sets_the_strictness(emulated_run: EmulatedRun) -> None:
    assert emulated_run.emulator.strictness.value == "permissive"


def test_unknown_or_positional_marker_arguments_fail_naming_the_known_ones(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_marked.py").write_text(
        "import pytest\n\n"
        "@pytest.mark.runmodel(scirpt='start+1, complete+1')\n"
        "def test_misspelt(emulated_run):\n"
        "    pass\n\n"
        "@pytest.mark.runmodel('start+1, complete+1')\n"
        "def test_positional(emulated_run):\n"
        "    pass\n\n"
        "@pytest.mark.runmodel(script='start+1, complete+1')\n"
        "def test_right(emulated_run):\n"
        "    pass\n",
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_marked.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "1 passed, 2 errors" in out
    assert "@pytest.mark.runmodel: unknown argument scirpt=; known: script=, strictness=" in out
    assert "takes keyword arguments only (script=, strictness=)" in out
    assert "pytest_plugin.py" not in out  # the user's marker is the problem, not the kit's code
