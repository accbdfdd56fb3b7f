"""``runmodel conform``: drive a suite of scenarios against an Assistants server and check it.

The server is the embedded emulator (in-process, on a virtual clock) unless ``--base-url`` names
another: ``runmodel serve``, another implementation, or the live API. Every request is recorded,
the trace is checked against the model, and each scenario passes, fails with the violations found
in its runs, or is skipped with the reason. Scenarios that break the rules on purpose (a cancel of
a finished run, outputs outside requires_action, a second run, a message on a locked thread)
judge the *server's* reply; the client's own violations there are the point, not findings.

Exit codes: 0 every scenario passed or was skipped, 1 a scenario failed, 2 the server could not
be used (unreachable, key rejected) or the arguments are wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from runmodel import RUN, RunmodelError

from .lesson import ORDER_TOTAL

__all__ = [
    "RUNS",
    "SCENARIOS",
    "Outcome",
    "Played",
    "ScenarioContext",
    "Skip",
    "Suite",
    "SuiteInterrupted",
    "judge_trace",
    "play_scenarios",
]

_FUNCTION = {
    "type": "function",
    "function": {
        "name": ORDER_TOTAL,
        "description": "Total price of a shopping cart",
        "parameters": {"type": "object", "properties": {"items": {"type": "array"}}},
    },
}
_FORCE = {"type": "function", "function": {"name": ORDER_TOTAL}}


class Skip(RunmodelError):
    """A scenario that cannot run against this server; the message says why."""


class ScenarioContext(Protocol):
    """What a scenario plays with: the ids of the objects it created are judged in the trace."""

    created: list[str]


@dataclass(slots=True)
class _Context:
    client: Any
    emulator: Any  # the in-process Emulator, or None for a remote server
    slow: bool
    created: list[str] = field(default_factory=list)  # run ids the current scenario created

    def script(self, text: str) -> None:
        """Give the next run a script (only the embedded emulator takes one)."""
        if self.emulator is not None:
            self.emulator.queue_scripts(text)

    def assistant(self, tools: bool) -> str:
        a = self.client.beta.assistants.create(
            model="gpt-4o-mini", name="runmodel conform", tools=[_FUNCTION] if tools else []
        )
        return str(a.id)

    def thread(self) -> str:
        t = self.client.beta.threads.create(messages=[{"role": "user", "content": "2 books?"}])
        return str(t.id)

    def create(self, thread_id: str, assistant_id: str, **kw: Any) -> Any:
        run = self.client.beta.threads.runs.create(
            thread_id=thread_id, assistant_id=assistant_id, **kw
        )
        self.created.append(run.id)
        return run

    def wait(self, run: Any, *, answer: bool = True) -> Any:
        """Poll to the end, answering every round with all outputs in one request."""
        runs = self.client.beta.threads.runs
        while True:
            run = runs.poll(run.id, thread_id=run.thread_id)
            if run.status != "requires_action" or not answer:
                return run
            calls = run.required_action.submit_tool_outputs.tool_calls
            runs.submit_tool_outputs(
                run.id,
                thread_id=run.thread_id,
                tool_outputs=[{"tool_call_id": c.id, "output": '{"total": 42}'} for c in calls],
            )

    def refused(self, call: Callable[[], Any]) -> None:
        """Make a call the model forbids; the server must refuse it (the checker judges how)."""
        import openai

        try:
            call()
        except openai.APIStatusError:
            return  # refused; whether with the documented reply, the checker judges
        raise AssertionError("the server accepted a request the model forbids")


def _plain(c: _Context) -> None:
    c.script("start+1, complete+3")
    run = c.wait(c.create(c.thread(), c.assistant(tools=False)))
    if run.status != "completed":
        raise AssertionError(f"a plain reply ended {run.status}")
    c.client.beta.threads.messages.list(run.thread_id)


def _parallel(c: _Context) -> None:
    c.script("start+1, require_action(3)+2, start+1, complete+2")
    run = c.create(c.thread(), c.assistant(tools=True), tool_choice=_FORCE)
    c.wait(run)


def _two_rounds(c: _Context) -> None:
    c.script("start+1, require_action(1)+2, start+1, require_action(2)+2, start+1, complete+2")
    run = c.create(c.thread(), c.assistant(tools=True), tool_choice=_FORCE)
    rounds = 0
    while (run := c.wait(run, answer=False)).status == "requires_action":
        rounds += 1
        calls = run.required_action.submit_tool_outputs.tool_calls
        c.client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=run.thread_id,
            tool_outputs=[{"tool_call_id": x.id, "output": "42"} for x in calls],
        )
    if rounds < 2:
        raise Skip(f"the server asked for {rounds} round(s), not two")


def _cancel(c: _Context) -> None:
    c.script("start+1, complete+120; on_cancel=finish_cancel+2")
    runs = c.client.beta.threads.runs
    run = c.create(c.thread(), c.assistant(tools=False))
    for _ in range(60):
        run = runs.retrieve(run.id, thread_id=run.thread_id)
        if run.status != "queued":
            break
        time.sleep(1)
    if run.status != "in_progress":
        raise Skip(f"the run was {run.status}, never seen in_progress to cancel")
    runs.cancel(run.id, thread_id=run.thread_id)
    runs.poll(run.id, thread_id=run.thread_id)


def _finished(c: _Context) -> Any:
    c.script("start+1, complete+1")
    run = c.wait(c.create(c.thread(), c.assistant(tools=False)))
    if run.status not in RUN.terminal:
        raise Skip(f"the run ended {run.status}")
    return run


def _cancel_finished(c: _Context) -> None:
    run = _finished(c)
    c.refused(lambda: c.client.beta.threads.runs.cancel(run.id, thread_id=run.thread_id))


def _submit_outside(c: _Context) -> None:
    run = _finished(c)
    c.refused(
        lambda: c.client.beta.threads.runs.submit_tool_outputs(
            run.id,
            thread_id=run.thread_id,
            tool_outputs=[{"tool_call_id": "call_x", "output": "1"}],
        )
    )


def _locked(c: _Context, then: Callable[[str, str], Any]) -> None:
    c.script("start+1, complete+30")
    asst = c.assistant(tools=False)
    thread_id = c.thread()
    run = c.create(thread_id, asst)
    c.refused(lambda: then(thread_id, asst))
    c.wait(run)


def _second_run(c: _Context) -> None:
    _locked(c, lambda t, a: c.client.beta.threads.runs.create(thread_id=t, assistant_id=a))


def _message_locked(c: _Context) -> None:
    _locked(c, lambda t, a: c.client.beta.threads.messages.create(t, role="user", content="more"))


def _stream(c: _Context) -> None:
    c.script("start+1, require_action(2)+2, start+1, complete+2")
    runs = c.client.beta.threads.runs
    run_id, calls = "", []
    thread_id = c.thread()
    with runs.create(
        thread_id=thread_id, assistant_id=c.assistant(tools=True), tool_choice=_FORCE, stream=True
    ) as events:
        for event in events:
            if event.event == "thread.run.created":
                run_id = event.data.id
                c.created.append(run_id)
            if event.event == "thread.run.requires_action":
                calls = event.data.required_action.submit_tool_outputs.tool_calls
    if not calls:
        raise Skip("the streamed run asked for no tool outputs")
    outputs = [{"tool_call_id": x.id, "output": "42"} for x in calls]
    with runs.submit_tool_outputs(
        run_id=run_id, thread_id=thread_id, tool_outputs=outputs, stream=True
    ) as events:
        for _ in events:
            pass


def _pagination(c: _Context) -> None:
    asst = c.assistant(tools=False)
    thread_id = c.thread()
    made = []
    for _ in range(3):
        c.script("start+1, complete+1")
        made.append(c.wait(c.create(thread_id, asst)).id)
    listed = [r.id for r in c.client.beta.threads.runs.list(thread_id, limit=1)]
    if sorted(listed) != sorted(made) or len(set(listed)) != len(listed):
        raise AssertionError(f"paging runs one by one gave {listed}, not the runs made {made}")
    for run_id in made:
        steps = list(c.client.beta.threads.runs.steps.list(run_id, thread_id=thread_id, limit=1))
        if len({s.id for s in steps}) != len(steps):
            raise AssertionError("paging steps one by one repeated a step")


def _expiry(c: _Context) -> None:
    if c.emulator is None and not c.slow:
        raise Skip("expiry takes ten real minutes on a live server; pass --slow to wait")
    c.script("start+1, expire")
    run = c.wait(c.create(c.thread(), c.assistant(tools=False)))
    if run.status != "expired":
        raise Skip(f"the run ended {run.status} before it could expire")


SCENARIOS: dict[str, tuple[str, Callable[[_Context], Any]]] = {
    "plain": ("a plain reply", _plain),
    "parallel": ("a function round with parallel calls", _parallel),
    "rounds": ("two successive rounds", _two_rounds),
    "cancel": ("cancel while in progress", _cancel),
    "cancel-finished": ("cancel of a finished run (documented 400)", _cancel_finished),
    "submit-outside": ("tool outputs outside requires_action (documented 400)", _submit_outside),
    "second-run": ("a second run while one is active (documented 400)", _second_run),
    "locked-thread": ("a message on a locked thread (documented 400)", _message_locked),
    "stream": ("a streamed run with a function round", _stream),
    "pagination": ("pagination of runs and steps", _pagination),
    "expiry": ("expiry", _expiry),
}
"""Every scenario: name → (what it does, how)."""


@dataclass(frozen=True, slots=True)
class Suite:
    """A scenario suite for one API: its scenarios, the context each is played with, and a cheap
    call that shows whether the server answers at all (and takes the key)."""

    api: str
    scenarios: Mapping[str, tuple[str, Callable[[Any], Any]]]
    context: Callable[[Any, Any, bool], ScenarioContext]
    probe: Callable[[Any], object]


def _probe_runs(client: Any) -> object:
    return client.beta.assistants.list(limit=1)


RUNS = Suite("runs", SCENARIOS, _Context, _probe_runs)
"""The Assistants runs suite (``runmodel conform --api runs``, the default)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One scenario's result: passed, failed (with why), or skipped (with why)."""

    name: str
    title: str
    result: str  # "pass", "fail" or "skip"
    details: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Played:
    """One scenario as played: the runs (or responses) it created, and why it was skipped or
    failed, if so (the trace, checked once complete, judges the server's side)."""

    name: str
    title: str
    runs: tuple[str, ...]
    skip: str | None
    error: str | None


class SuiteInterrupted(KeyboardInterrupt):
    """Ctrl-C during the suite: the scenarios played before it."""

    def __init__(self, played: list[Played]) -> None:
        super().__init__()
        self.played = played


def play_scenarios(
    client: Any,
    emulator: Any,
    names: list[str],
    slow: bool,
    progress: Callable[[str], None] | None = None,
    suite: Suite = RUNS,
) -> list[Played]:
    """Run each of `suite`'s scenarios named with `client`; an exception is the scenario's
    failure, not ours. `emulator` is the in-process emulator behind `client` (it takes each
    run's or response's script), or None for a remote server. Ctrl-C raises `SuiteInterrupted`
    with the scenarios played before it."""
    played: list[Played] = []
    for i, name in enumerate(names):
        title, body = suite.scenarios[name]
        if progress is not None:
            progress(f"scenario {i + 1} of {len(names)}: {name}")
        ctx = suite.context(client, emulator, slow)
        skip = error = None
        try:
            body(ctx)
        except KeyboardInterrupt:
            raise SuiteInterrupted(played) from None
        except Skip as exc:
            skip = str(exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        played.append(Played(name, title, tuple(ctx.created), skip, error))
    return played


def judge_trace(trace: Path, played: list[Played], strictness: str) -> list[Outcome]:
    """Check the finished trace; give each scenario the server-side errors of its runs (and
    responses: a scenario's `Played.runs` names either)."""
    from runmodel import Strictness

    from .check import CLIENT_FACTS, RunChecked, Severity, ViolationFound, check
    from .readers import read

    findings: dict[str, list[str]] = {}
    for event in check(read(trace), Strictness(strictness)):
        found: list[tuple[str | None, Any]] = []
        if isinstance(event, RunChecked):
            found = [(event.result.run_id, v) for v in event.result.violations]
        elif isinstance(event, ViolationFound):
            found = [(event.violation.run_id, event.violation)]
        for run_id, v in found:
            client = v.code.startswith("client.") or v.code in CLIENT_FACTS
            if v.severity is Severity.ERROR and not client:
                findings.setdefault(run_id or "", []).append(f"{v.code}: {v.message}")
    out = []
    for p in played:
        details = [d for r in p.runs for d in findings.get(r, [])]
        if p.error is not None:
            details.insert(0, p.error)
        if details:
            out.append(Outcome(p.name, p.title, "fail", tuple(details)))
        elif p.skip is not None:
            out.append(Outcome(p.name, p.title, "skip", (p.skip,)))
        else:
            out.append(Outcome(p.name, p.title, "pass"))
    stray = findings.get("", [])
    if stray:
        out.append(Outcome("trace", "the recorded traffic as a whole", "fail", tuple(stray)))
    return out
