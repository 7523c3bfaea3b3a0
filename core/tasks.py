"""Ask for a Celery task by its registered name.

An app's `tasks.py` imports its services (a task takes ids and calls one service); a service
that asks for follow-up work must not import `tasks.py` back, or the app's modules import each
other in a cycle. It names the task instead. The task object is the registered one, so eager
mode (tests) and retries behave exactly as with `.delay()`.
"""

from __future__ import annotations

from typing import Any

from celery import current_app


def task_request(name: str, *args: Any) -> None:
    """`<name>.delay(*args)`; `name` is the task's registered name, e.g.
    `ledger.tasks.integrate_pending`."""
    current_app.tasks[name].delay(*args)
