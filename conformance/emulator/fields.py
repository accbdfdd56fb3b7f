"""The model's facts about runs, steps and messages, as the emulator applies them.

Which fields each status requires null and which it requires set are read from the model's
single-field status rules (`runmodel.RULES`), and the expiry from its ``run.expires_at`` rule,
so the emulator follows whatever the model says and keeps no table of its own.
"""

from __future__ import annotations

from typing import Any

from runmodel import MESSAGE, RULES, RUN, STEP, Lifecycle

__all__ = ["EXPIRY_SECONDS", "MESSAGE_FIELDS", "RUN_FIELDS", "STEP_FIELDS", "StatusFields"]


class StatusFields:
    """For one lifecycle: the fields each status requires null, and those it requires set.

    Read from the model's single-field status rules by asking each rule about a null and a
    non-null value, so the emulator follows whatever the rules say.
    """

    def __init__(self, lifecycle: Lifecycle) -> None:
        null: dict[str, set[str]] = {s: set() for s in lifecycle.statuses}
        must: dict[str, set[str]] = {s: set() for s in lifecycle.statuses}
        for rule in RULES[lifecycle.name]:
            if len(rule.fields) != 1:
                continue
            (f,) = rule.fields
            for status in rule.statuses:
                with_null = rule.snapshot({"status": status, f: None})
                with_value = rule.snapshot({"status": status, f: 0})
                if with_null is None and with_value is not None:
                    null[status].add(f)
                elif with_value is None and with_null is not None:
                    must[status].add(f)
        clash = {s: null[s] & must[s] for s in lifecycle.statuses if null[s] & must[s]}
        if clash:  # pragma: no cover - a broken model
            raise RuntimeError(f"{lifecycle.name}: rules require fields both null and set: {clash}")
        self.null = {s: tuple(sorted(v)) for s, v in null.items()}
        self.must = {s: tuple(sorted(v)) for s, v in must.items()}

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


RUN_FIELDS = StatusFields(RUN)
STEP_FIELDS = StatusFields(STEP)
MESSAGE_FIELDS = StatusFields(MESSAGE)


def _expiry_seconds() -> int:
    for rule in RULES[RUN.name]:
        if rule.code == "run.expires_at.ten_minutes":
            return int(rule.offset)  # type: ignore[attr-defined]
    raise RuntimeError("the model has no run.expires_at.ten_minutes rule")  # pragma: no cover


EXPIRY_SECONDS = _expiry_seconds()
"""How long after ``created_at`` a run expires (the model's ``run.expires_at.ten_minutes``)."""
