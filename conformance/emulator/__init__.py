"""A fake Assistants API whose runs move exactly as the model allows, on scripts tests control.

Real client code runs through the real ``openai`` SDK, in-process and with no network::

    emu = Emulator()
    client = emu.client()                      # openai.OpenAI on an in-process transport
    thread_id, run_id = emu.start_run("start+1, require_action(2)+3, start+1, complete+1")
    with emu.virtual_time() as sleeps:         # time.sleep / asyncio.sleep move the clock
        my_code(client, thread_id, run_id)
    emu.requests                               # every request: method, path, time, status, body

The same emulator serves the Responses API (``client.responses``: background or not, streamed
or not, resumed with ``starting_after``), each response on its own `ResponseScript`::

    emu.response_script = "start+1, complete(2)+3"   # or emu.response_script_chooser = ...
    resp = client.responses.create(model="gpt-4.1", input="hi", background=True)
    emu.responses[resp.id].history                  # each status: trigger, actor, time

Harnesses watch and steer through public hooks: ``before_request``, ``on_reply`` and
``on_request`` see each request, and ``runs``, ``thread_of``, ``responses`` and ``next_wake``
read runs and responses without moving them. The endpoints are `routes`, one module per family.

``runmodel serve`` (`server.EmulatorServer`, not imported here: in-process use needs no HTTP
server) offers the same emulator over loopback HTTP.
"""

from __future__ import annotations

from .api import (
    BASE_URL,
    LESSON_ASSISTANT,
    Emulator,
    Reply,
    Request,
    RequestBudgetExceeded,
    ScriptChooser,
)
from .clock import ClientInterrupted, Clock, Sleep, TimeBudgetExceeded, virtual_time
from .faults import Fault, Faults
from .response_hooks import ResponseScriptChooser
from .response_script import ResponseMove, ResponseScript, parse_response_script
from .responses import Change, Response
from .script import Move, Script, ScriptError, default_script, parse_script

__all__ = [
    "BASE_URL",
    "LESSON_ASSISTANT",
    "Change",
    "ClientInterrupted",
    "Clock",
    "Emulator",
    "Fault",
    "Faults",
    "Move",
    "Reply",
    "Request",
    "RequestBudgetExceeded",
    "Response",
    "ResponseMove",
    "ResponseScript",
    "ResponseScriptChooser",
    "Script",
    "ScriptChooser",
    "ScriptError",
    "Sleep",
    "TimeBudgetExceeded",
    "default_script",
    "parse_response_script",
    "parse_script",
    "virtual_time",
]
