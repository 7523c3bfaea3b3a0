"""Moved to core/money.py (issue 12); this name stays only until the restructuring lands."""

from core.money import *  # noqa: F403
