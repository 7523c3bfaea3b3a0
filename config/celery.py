"""The Celery application.

Broker from `CELERY_BROKER_URL`; with nothing configured, kombu's filesystem transport under
`var/broker/` so a real worker process runs with no server installed (see config/settings/base.py).
"""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("remit")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_hygiene(task: object = None, **_: object) -> None:
    """What Django does around a web request: drop connections that are broken or older than
    CONN_MAX_AGE, keep the rest (CELERY_DB_REUSE_MAX stops Celery closing every connection
    around every task, which made each task pay a reconnect). Not for an eager task: it runs
    inside its caller's request or transaction."""
    from django.db import close_old_connections

    if getattr(getattr(task, "request", None), "is_eager", False):
        return

    close_old_connections()
