"""``runmodel fuzz --contract poller|stream|tool-loop``: the guide's poller from a file (its own
``from time import sleep`` runs on virtual time), text and JSON reports, a ``reproduce:`` line
that replays the counterexample, exit 1 on a counterexample, and usage errors exit 2."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from runmodel.cli import main

_CLIENTS = """\
from time import sleep


def guide_poller(client, response_id):
    resp = client.responses.retrieve(response_id)
    while resp.status in {"queued", "in_progress"}:
        print(f"Current status: {resp.status}")
        sleep(2)
        resp = client.responses.retrieve(resp.id)
    return resp


def library_poller(client, response_id, deadline=600):
    waited = 0
    resp = client.responses.retrieve(response_id)
    while resp.status in ("queued", "in_progress"):
        if waited > deadline:
            resp = client.responses.cancel(response_id)
            raise TimeoutError(resp.status)
        sleep(2)
        waited += 2
        resp = client.responses.retrieve(response_id)
    if resp.status != "completed":
        raise RuntimeError(f"the response ended {resp.status}")
    return resp


def loop(client, tools):
    resp = client.responses.create(model="gpt-4o", input="hi", tools=tools, background=True)
    while True:
        while resp.status in {"queued", "in_progress"}:
            sleep(2)
            resp = client.responses.retrieve(resp.id)
        calls = [o for o in resp.output if o.type == "function_call"]
        if resp.status != "completed" or not calls:
            return resp
        outputs = [
            {"type": "function_call_output", "call_id": c.call_id, "output": "1"} for c in calls
        ]
        resp = client.responses.create(
            model="gpt-4o", input=outputs, tools=tools, previous_response_id=resp.id
        )
"""


def _fuzz(tmp_path: Path, capsys: Any, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "clients.py"
    if not path.exists():
        path.write_text(_CLIENTS)
    target, *rest = args
    code = main(["fuzz", f"{path}:{target}", *rest])
    out, err = capsys.readouterr()
    return code, out.replace(str(path), "clients.py"), err.replace(str(path), "clients.py")


def test_the_guides_poller_has_no_deadline(tmp_path: Path, capsys: Any) -> None:
    code, out, err = _fuzz(
        tmp_path, capsys, "guide_poller", "--contract", "poller", "--max-examples", "20"
    )
    assert (code, err) == (1, "")
    assert out.startswith("queued: the client polled the response 441 times while the server ")
    assert "  contract:  poller (property: terminates)\n" in out
    assert "  scenario:  stay\n" in out
    assert "GET /responses/{resp} → 200 queued  ×441 (until 902.05s), sleeping 2 s" in out
    reproduce = (
        "reproduce: runmodel fuzz clients.py:guide_poller --contract poller --strictness strict "
        '--scenario "stay"'
    )
    assert out.rstrip().endswith(reproduce)
    # the reproduce line replays it
    again = shlex.split(reproduce.removeprefix("reproduce: runmodel fuzz "))[1:]
    assert _fuzz(tmp_path, capsys, "guide_poller", *again) == (1, out, "")


def test_the_guides_poller_passes_when_every_response_ends(tmp_path: Path, capsys: Any) -> None:
    code, out, _ = _fuzz(
        tmp_path,
        capsys,
        "guide_poller",
        "--contract",
        "poller",
        "--no-stay",
        "--max-examples",
        "20",
        "--format",
        "json",
    )
    assert code == 0
    report = json.loads(out)
    assert (report["result"], report["lifecycle"], report["examples"]) == (
        "passed",
        "response",
        20,
    )


def test_a_tool_loop_that_drops_background_is_a_json_counterexample(
    tmp_path: Path, capsys: Any
) -> None:
    code, out, _ = _fuzz(
        tmp_path,
        capsys,
        "loop",
        "--contract",
        "tool-loop",
        "--max-examples",
        "20",
        "--no-stay",
        "--format",
        "json",
    )
    assert code == 1
    report = json.loads(out)
    assert report["result"] == "counterexample"
    assert report["property"] == "response.round.background_again"
    assert report["scenario"] == "start+1, complete(1)+1 | start+1, complete+1"
    assert [c["property"] for c in report["counterexamples"]] == [report["property"]]


def test_usage_errors_exit_2(tmp_path: Path, capsys: Any) -> None:
    code, out, err = _fuzz(tmp_path, capsys, "guide_poller", "--contract", "stream")
    assert (code, out) == (2, "")
    assert err == (
        "runmodel fuzz: clients.py:guide_poller: guide_poller(client, response_id) cannot be "
        "called as guide_poller(client), as the stream contract calls it (missing a required "
        "argument: 'response_id')\n"
    )
    code, _, err = _fuzz(
        tmp_path, capsys, "guide_poller", "--contract", "poller", "--future-status"
    )
    assert (code, err) == (
        2,
        "runmodel fuzz: --future-status is for the run contracts, not --contract poller\n",
    )
    code, _, err = _fuzz(tmp_path, capsys, "guide_poller", "--no-stay")
    assert (code, err) == (2, "runmodel fuzz: --no-stay is for the response contracts\n")
    code, _, err = _fuzz(
        tmp_path, capsys, "guide_poller", "--contract", "poller", "--scenario", "complete+1"
    )
    assert code == 2
    assert err.startswith("runmodel fuzz: --scenario: 'complete+1': the server cannot complete")


def test_a_library_that_raises_on_an_unsuccessful_end_says_so(tmp_path: Path, capsys: Any) -> None:
    args = ("library_poller", "--contract", "poller", "--max-examples", "30")
    code, out, _ = _fuzz(tmp_path, capsys, *args)
    assert code == 1
    assert "(property: returns)" in out
    assert "the client raised RuntimeError: the response ended " in out
    code, out, err = _fuzz(tmp_path, capsys, *args, "--raises-on-failure")
    assert (code, err) == (0, "")
    assert out.startswith("every property of the poller contract held in 30 lifecycles")
