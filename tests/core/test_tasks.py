"""`task_request` finds a task by name in a process that has imported no tasks module yet (a
web process, a management command, a benchmark): it loads them on first use."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from django.conf import settings

FRESH_PROCESS = textwrap.dedent(
    """
    import os
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django
    django.setup()
    from celery import current_app
    from celery.app.task import Task
    from core.tasks import task_request

    asked = []
    Task.delay = lambda self, *args: asked.append((self.name, args))
    assert "ledger.tasks.integrate_pending" not in current_app.tasks, "loaded already"
    task_request("ledger.tasks.integrate_pending")
    task_request("institutions.tasks.deliver_webhooks")  # a name older than its module
    assert asked == [
        ("ledger.tasks.integrate_pending", ()),
        ("institutions.tasks.deliver_webhooks", ()),
    ], asked
    """
)


def test_a_fresh_process_can_request_a_task_by_name():
    done = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
