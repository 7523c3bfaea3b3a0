"""Moved to core/problems.py (issue 12); this name stays only until the restructuring lands."""

from core.problems import *  # noqa: F403
