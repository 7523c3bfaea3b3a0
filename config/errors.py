"""Moved to core/errors.py (issue 12); this name stays only until the restructuring lands."""

from core.errors import *  # noqa: F403
