"""``runmodel check`` on every recording of real Assistants API traffic in
``../shared/recordings/real`` (other projects' test fixtures: Python and Ruby VCR, SDK test-proxy
records, ExVCR), each with the verdict a careful reader of the file gives.

The recordings are the only evidence of the live API's behaviour; their sources and licences are
in ``SOURCES.md`` beside them. When ``../shared`` is not there, the tests skip and say so.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from runmodel import cli
from tests.helpers import paths

REAL = paths.REAL
needs_recordings = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the real recordings are not here: {REAL} is missing"
)
RUBY = "alexrudall__ruby-openai__spec__fixtures__cassettes__"

# file -> (exit code, runs, observations, finding codes in order), at both strictness levels
VERDICTS: dict[str, tuple[int, int, int, list[str]]] = {
    # two polled runs, queued → in_progress → completed, with their steps and messages
    "AgentOps-AI__agentops__tests__fixtures__recordings__test_openai_assistants_provider.yaml": (
        0,
        2,
        23,
        [],
    ),
    # polled code_interpreter runs; one streamed run with a tool_calls and a message step
    "traceloop__openllmetry__packages__opentelemetry-instrumentation-openai__tests__traces__"
    "cassettes__test_assistant__test_new_assistant.yaml": (0, 1, 18, []),
    "traceloop__openllmetry__packages__opentelemetry-instrumentation-openai__tests__traces__"
    "cassettes__test_assistant__test_new_assistant_with_polling.yaml": (0, 1, 23, []),
    "traceloop__openllmetry__packages__opentelemetry-instrumentation-openai__tests__traces__"
    "cassettes__test_assistant__test_streaming_new_assistant.yaml": (0, 1, 14, []),
    # a tool round by polling: started_at kept in queued after the submit, then moved forward
    "traceloop__openllmetry__packages__opentelemetry-instrumentation-llamaindex__tests__"
    "cassettes__test_agents__test_agent_with_query_tool.yaml": (0, 1, 15, []),
    # four creations (queued) and two 400 invalid_thread replies (not a lifecycle matter)
    f"{RUBY}runs_create.yml": (0, 4, 4, []),
    f"{RUBY}runs_cancel_run_setup.yml": (0, 4, 4, []),
    f"{RUBY}runs_submit_tool_outputs_run_setup.yml": (0, 4, 4, []),
    # four cancels answered 200 cancelling: each run's first observation
    f"{RUBY}runs_cancel.yml": (0, 4, 4, []),
    # four submits refused with the documented text: each names its run's status (in_progress)
    f"{RUBY}runs_submit_tool_outputs.yml": (0, 4, 4, []),
    # in_progress runs, listed and retrieved
    f"{RUBY}runs_list.yml": (0, 5, 5, []),
    f"{RUBY}runs_retrieve.yml": (0, 4, 4, []),
    # two real server anomalies: a completed run with incomplete_details set, and the event
    # thread.run.completed carrying status incomplete
    f"{RUBY}runs_streamed_create.yml": (
        1,
        2,
        20,
        ["run.field.incomplete_details.null", "stream.event_mismatch"],
    ),
    # a run created queued, then a message list holding its reply (the run was not polled)
    "dvcrn__ex_openai__test__fixture__vcr_cassettes__math_assistant.json": (0, 1, 4, []),
    # queued ×3 (create, retrieve, list), in_progress, completed
    "openai__openai-dotnet__tests__SessionRecords__AssistantsTests__BasicRunOperationsWork.json": (
        0,
        1,
        9,
        [],
    ),
    # a tool round: requires_action ×9 (usage null), submit, queued with started_at kept
    "openai__openai-dotnet__tests__SessionRecords__AssistantsTests__FunctionToolsWork.json": (
        0,
        1,
        17,
        [],
    ),
    # a streamed tool round; the submit stream opens with the old step's step.completed
    "openai__openai-dotnet__tests__SessionRecords__AssistantsTests__StreamingToolCall().json": (
        0,
        1,
        16,
        [],
    ),
}


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = cli.main(["check", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


def _codes(doc: dict[str, Any]) -> list[str]:
    found = [v for r in doc["runs"] for v in r["violations"]] + doc["other"]
    return sorted(v["code"] for v in found)


@needs_recordings
def test_every_recording_has_a_verdict() -> None:
    files = sorted(p.name for p in REAL.iterdir() if p.name != "SOURCES.md")
    assert files == sorted(VERDICTS)
    sources = (REAL / "SOURCES.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in sources for name in files)


@needs_recordings
@pytest.mark.parametrize("level", ["strict", "permissive"])
@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_a_real_recording_gets_a_careful_readers_verdict(
    name: str, level: str, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code, runs, observations, codes = VERDICTS[name]
    code, doc = _check(capsys, str(REAL / name), "--strictness", level)
    summary = doc["summary"]
    assert (code, summary["runs"], summary["observations"]) == (exit_code, runs, observations)
    assert _codes(doc) == codes
    assert summary["needs_permissive"] == []


@needs_recordings
@pytest.mark.parametrize("level", ["strict", "permissive"])
def test_cancels_of_runs_last_seen_queued_conform(
    level: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # the spec creates each run (queued) and cancels it; the API answered 200 cancelling with
    # started_at set: the server had started the run unseen, as the strict model allows
    setup, cancel = REAL / f"{RUBY}runs_cancel_run_setup.yml", REAL / f"{RUBY}runs_cancel.yml"
    code, doc = _check(capsys, str(setup), str(cancel), "--strictness", level)
    assert (code, _codes(doc), doc["summary"]["needs_permissive"]) == (0, [], [])
    assert all(r["statuses"] == ["queued", "cancelling"] for r in doc["runs"])
    # credited to the way of highest grade, through in_progress, not to queued → cancelling (I)
    assert doc["coverage"]["edges"]["run"] == {
        "(create) -> queued": 4,
        "in_progress -> cancelling": 4,
        "queued -> in_progress": 4,
    }


@needs_recordings
def test_submits_to_runs_that_never_required_action_are_the_clients_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the spec submits outputs for a call id it never saw to runs it saw queued (testing the
    # API's refusal): the client's error; the documented refusal naming in_progress is a race
    setup = REAL / f"{RUBY}runs_submit_tool_outputs_run_setup.yml"
    submit = REAL / f"{RUBY}runs_submit_tool_outputs.yml"
    code, doc = _check(capsys, str(setup), str(submit))
    assert code == 1
    assert _codes(doc) == ["client.submit_outside_requires_action"] * 4
    assert all(r["statuses"] == ["queued", "in_progress"] for r in doc["runs"])
