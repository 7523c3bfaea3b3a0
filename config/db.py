"""Moved to core/db.py (issue 12); this name stays only until the restructuring lands."""

from core.db import *  # noqa: F403
