"""Prefect flows. Each reads like a table of contents: the work is in tasks and the pure core.

Prefect decides on telemetry when it is first imported; a pipeline run on an agency's machine must
not call out, so opt out here, before any flow module imports Prefect (an explicit setting wins).
"""

import os

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
