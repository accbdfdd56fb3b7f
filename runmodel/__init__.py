"""runmodel: a formal, evidence-graded model of Assistants API runs and background responses.

The model (statuses, edges, grades, sources, field rules, links) is the single source of truth;
the checker, the strategies, the emulator and the diagrams all derive from it. It imports nothing
from the conformance kit. A lifecycle is a unit: a module declares its statuses and edges
(`Lifecycle`), its field rules (`runmodel.fields`) and hands them to `register`.
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
from ._lifecycles import CANCELLING, MESSAGE, RUN, STEP, Trigger
from ._registry import (
    API_OBJECTS,
    FACTS,
    FIELDS,
    LIFECYCLES,
    LINKS,
    MARKS,
    RULES,
    RULES_BY_CODE,
    VALUES,
    register,
)
from ._responses import RESPONSE, ResponseTrigger  # registers the response lifecycle
from ._rules import EXPIRY_SECONDS  # importing it registers the Assistants lifecycles
from .fields import Fact, FieldRule, FieldValues, Link, StatusFields

__version__ = "0.1.0"

__all__ = [
    "API_OBJECTS",
    "CANCELLING",
    "EXPIRY_SECONDS",
    "FACTS",
    "FIELDS",
    "LIFECYCLES",
    "LINKS",
    "MARKS",
    "MESSAGE",
    "RESPONSE",
    "RULES",
    "RULES_BY_CODE",
    "RUN",
    "STEP",
    "VALUES",
    "Actor",
    "Edge",
    "Evidence",
    "Fact",
    "FieldRule",
    "FieldValues",
    "Grade",
    "IllegalTransition",
    "Lifecycle",
    "Link",
    "ModelDefinitionError",
    "ResponseTrigger",
    "RunmodelError",
    "Status",
    "StatusFields",
    "Strictness",
    "Tracker",
    "Trigger",
    "__version__",
    "register",
]
