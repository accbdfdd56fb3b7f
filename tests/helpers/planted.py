"""The secrets planted where the SDK looks for them, which no file the kit writes may contain."""

from __future__ import annotations

KEY = "sk-PLANTED-3f9c2e7a1b"
ORG = "org-PLANTEDORG9"
PROJECT = "proj_PLANTEDPROJ7"
SECRETS = (KEY.encode(), ORG.encode(), PROJECT.encode())
ENVIRONMENT = {"OPENAI_API_KEY": KEY, "OPENAI_ORG_ID": ORG, "OPENAI_PROJECT_ID": PROJECT}
"""Where the SDK reads them by default."""
