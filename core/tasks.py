"""Ask for a Celery task by its registered name.

An app's `tasks.py` imports its services (a task takes ids and calls one service); a service
that asks for follow-up work must not import `tasks.py` back, or the app's modules import each
other in a cycle. It names the task instead. The task object is the registered one, so eager
mode (tests) and retries behave exactly as with `.delay()`.

A worker imports every app's `tasks` module when it starts; a web process or a management
command does not, so the first request in such a process loads them.
"""

from __future__ import annotations

import importlib
from typing import Any

from celery import current_app
from django.apps import apps
from django.db import transaction


def _tasks_modules_load() -> None:
    for app in apps.get_app_configs():
        try:
            importlib.import_module(f"{app.name}.tasks")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app.name}.tasks":
                raise


def task_request_on_commit(name: str, *args: Any) -> None:
    """`task_request` once the caller's transaction commits (never if it rolls back). A broker
    that refuses the task then is logged and does not fail the committed change, nor the other
    commit hooks (each job also has a beat sweep or a retry path)."""
    transaction.on_commit(lambda: task_request(name, *args), robust=True)


def task_request(name: str, *args: Any) -> None:
    """`<name>.delay(*args)`; `name` is the task's registered name, e.g.
    `ledger.tasks.integrate_pending`."""
    if name not in current_app.tasks:
        _tasks_modules_load()
    current_app.tasks[name].delay(*args)
