"""The model's facts about runs, steps and messages, as the emulator applies them.

Which fields each status requires null and which it requires set come from the model's tables
(`runmodel.FIELDS`), the expiry from `runmodel.EXPIRY_SECONDS`, so the emulator follows whatever
the model says and keeps no table of its own.
"""

from __future__ import annotations

from typing import Any

from runmodel import EXPIRY_SECONDS, FIELDS, MESSAGE, RUN, STEP, Lifecycle

__all__ = ["EXPIRY_SECONDS", "MESSAGE_FIELDS", "RUN_FIELDS", "STEP_FIELDS", "FieldSetter"]


class FieldSetter:
    """For one lifecycle: the fields each status requires null, and those it requires set, as
    the model's table says (`runmodel.FIELDS`), so the emulator follows whatever the rules say.
    """

    def __init__(self, lifecycle: Lifecycle) -> None:
        table = FIELDS[lifecycle.name]
        self.null = {s: table[s].null for s in lifecycle.statuses}
        self.must = {s: table[s].set for s in lifecycle.statuses}

    def enter(self, obj: dict[str, Any], status: str, t: float) -> None:
        """Put `obj` in `status` at time `t`: null what must be null, stamp missing timestamps."""
        for f in self.null[status]:
            obj[f] = None
        for f in self.must[status]:
            if obj.get(f) is None:
                if not f.endswith("_at"):
                    raise AssertionError(
                        f"emulator bug: {obj.get('object')} {f} unset entering {status}"
                    )
                obj[f] = int(t)
        obj["status"] = status


RUN_FIELDS = FieldSetter(RUN)
STEP_FIELDS = FieldSetter(STEP)
MESSAGE_FIELDS = FieldSetter(MESSAGE)
