"""runmodel: a formal, evidence-graded model of Assistants API runs.

The model (statuses, edges, grades, sources, field rules, links) is the single source of truth;
the checker, the strategies, the emulator and the diagrams all derive from it.
"""

from __future__ import annotations

from ._core import (
    Actor,
    Edge,
    Evidence,
    Grade,
    IllegalTransition,
    Lifecycle,
    ModelDefinitionError,
    RunmodelError,
    Status,
    Strictness,
    Tracker,
)
from ._lifecycles import MESSAGE, RUN, STEP
from ._rules import LINKS, MARKS, RULES, VALUES, FieldRule, FieldValues, Link

__version__ = "0.1.0"

LIFECYCLES: dict[str, Lifecycle] = {lc.name: lc for lc in (RUN, STEP, MESSAGE)}
"""Every lifecycle of the model, by name (``run``, ``run_step``, ``message``)."""

__all__ = [
    "LIFECYCLES",
    "LINKS",
    "MARKS",
    "MESSAGE",
    "RULES",
    "RUN",
    "STEP",
    "VALUES",
    "Actor",
    "Edge",
    "Evidence",
    "FieldRule",
    "FieldValues",
    "Grade",
    "IllegalTransition",
    "Lifecycle",
    "Link",
    "ModelDefinitionError",
    "RunmodelError",
    "Status",
    "Strictness",
    "Tracker",
    "__version__",
]
