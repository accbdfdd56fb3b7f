"""Every real recording in ../shared/recordings/real is read whole: its format detected, and
every exchange, stream event and run / run step / message object counted as in the file."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.observations import Exchange, InputProblem, StreamEvent, TraceInfo
from conformance.readers import SNAPSHOT_OBJECTS, read
from tests.helpers import paths

REAL = paths.REAL

# file -> (format, exchanges, stream events, run/step/message objects, distinct runs).
# Counted without runmodel: interactions as `grep -c '^- request:'` (YAML) or the length of the
# entry array (JSON); events as lines starting `event: ` in the response bodies (gzip bodies
# decompressed, test-proxy line arrays joined); objects as matches of
# `"object"\s*:\s*"(thread\.run|thread\.run\.step|thread\.message)"` in the response bodies
# (list pages count each element; deltas are other objects); runs as distinct ids matching
# `"id"\s*:\s*"(run_\w+)"\s*,\s*"object"\s*:\s*"thread\.run"`. SOURCES.md agrees on the runs.
EXPECTED = {
    "AgentOps-AI__agentops__tests__fixtures__recordings__test_openai_assistants_provider.yaml": (
        "vcr-yaml", 35, 0, 23, 2
    ),
    "alexrudall__ruby-openai__spec__fixtures__cassettes__runs_cancel.yml": (
        "ruby-vcr-yaml", 4, 0, 4, 4
    ),
    "alexrudall__ruby-openai__spec__fixtures__cassettes__runs_cancel_run_setup.yml": (
        "ruby-vcr-yaml", 6, 0, 4, 4
    ),
    "alexrudall__ruby-openai__spec__fixtures__cassettes__runs_create.yml": (
        "ruby-vcr-yaml", 6, 0, 4, 4
    ),
    "alexrudall__ruby-openai__spec__fixtures__cassettes__runs_list.yml": (
        "ruby-vcr-yaml", 5, 0, 5, 5
    ),
    "alexrudall__ruby-openai__spec__fixtures__cassettes__runs_retrieve.yml": (
        "ruby-vcr-yaml", 4, 0, 4, 4
    ),
    "alexrudall__ruby-openai__spec__fixtures__cassettes__runs_streamed_create.yml": (
        "ruby-vcr-yaml", 4, 52, 20, 2
    ),
    "alexrudall__ruby-openai__spec__fixtures__cassettes__runs_submit_tool_outputs.yml": (
        "ruby-vcr-yaml", 4, 0, 0, 0
    ),
    "alexrudall__ruby-openai__spec__fixtures__cassettes__runs_submit_tool_outputs_run_setup.yml": (
        "ruby-vcr-yaml", 6, 0, 4, 4
    ),
    "dvcrn__ex_openai__test__fixture__vcr_cassettes__math_assistant.json": (
        "exvcr", 5, 0, 4, 1
    ),
    "openai__openai-dotnet__tests__SessionRecords__AssistantsTests__BasicRunOperationsWork.json": (
        "test-proxy", 11, 0, 9, 1
    ),
    "openai__openai-dotnet__tests__SessionRecords__AssistantsTests__FunctionToolsWork.json": (
        "test-proxy", 17, 0, 17, 1
    ),
    "openai__openai-dotnet__tests__SessionRecords__AssistantsTests__StreamingToolCall().json": (
        "test-proxy", 3, 61, 16, 1
    ),
    "traceloop__openllmetry__packages__opentelemetry-instrumentation-llamaindex__tests__cassettes"
    "__test_agents__test_agent_with_query_tool.yaml": ("vcr-yaml", 19, 0, 15, 1),
    "traceloop__openllmetry__packages__opentelemetry-instrumentation-openai__tests__traces__cassettes"
    "__test_assistant__test_new_assistant.yaml": ("vcr-yaml", 20, 0, 18, 1),
    "traceloop__openllmetry__packages__opentelemetry-instrumentation-openai__tests__traces__cassettes"
    "__test_assistant__test_new_assistant_with_polling.yaml": ("vcr-yaml", 25, 0, 23, 1),
    "traceloop__openllmetry__packages__opentelemetry-instrumentation-openai__tests__traces__cassettes"
    "__test_assistant__test_streaming_new_assistant.yaml": ("vcr-yaml", 5, 95, 14, 1),
}  # fmt: skip

needs_shared = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"the shared real recordings are not here ({REAL.resolve()})"
)


def _objects(value: Any) -> list[dict[str, Any]]:
    """The run / step / message objects a body holds: itself, or a list page's elements."""
    if not isinstance(value, dict):
        return []
    if value.get("object") in SNAPSHOT_OBJECTS:
        return [value]
    if value.get("object") == "list" and isinstance(value.get("data"), list):
        return [
            v for v in value["data"] if isinstance(v, dict) and v.get("object") in SNAPSHOT_OBJECTS
        ]
    return []


@needs_shared
def test_every_real_recording_is_listed() -> None:
    files = {p.name for p in REAL.iterdir() if p.name != "SOURCES.md"}
    assert files == set(EXPECTED)


@needs_shared
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_real_recording_is_read_whole(name: str) -> None:
    items = list(read(REAL / name))
    assert [i for i in items if isinstance(i, InputProblem)] == []
    formats = [i.format for i in items if isinstance(i, TraceInfo)]
    exchanges = [i for i in items if isinstance(i, Exchange)]
    events = [i for i in items if isinstance(i, StreamEvent)]
    objects = [o for i in exchanges for o in _objects(i.response_body)]
    objects += [o for i in events for o in _objects(i.data)]
    runs = {o["id"] for o in objects if o["object"] == "thread.run"}
    found = (formats[0], len(exchanges), len(events), len(objects), len(runs))
    assert found == EXPECTED[name]
    assert len(formats) == 1
    # every exchange has its request and its reply: a method, an API path, a status
    assert all(
        i.method in {"GET", "POST", "DELETE"} and i.path.startswith("/v1/") for i in exchanges
    )
    assert all(isinstance(i.status, int) for i in exchanges)
    assert all(i.response_headers.get("date") for i in exchanges)
