"""The pytest plugin: an emulated run as a fixture, scripted by a marker, on virtual time."""

from __future__ import annotations

import time

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
