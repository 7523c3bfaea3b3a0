"""Shared fixtures: a small network built through the real services (so every statement the
foundation emits is queued as it would be in production)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from rest_framework.test import APIClient

from institutions import services as inst
from institutions.models import Institution


@dataclass
class Member:
    institution: Institution
    private_key: Ed25519PrivateKey | None
    key_id: str
    api_key: str = ""

    @property
    def code(self) -> str:
        return self.institution.code

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.api_key}")
        return client


@dataclass
class Network:
    hub: Member
    valyou: Member
    partner: Member
    tmb: Member
    members: dict[str, Member] = field(default_factory=dict)


def _member(**kwargs) -> Member:
    new = inst.institution_create(**kwargs)
    institution = new.signing_key.institution
    _, api_key = inst.api_credential_create(institution=institution, label="test")
    return Member(institution, new.private_key, new.signing_key.key_id, api_key)


def _currencies() -> None:
    """Transactional tests flush every table, the migration-seeded currencies included."""
    from core.money import ISO4217
    from institutions.models import Currency

    for code, (minor, name) in ISO4217.items():
        Currency.objects.get_or_create(code=code, defaults={"name": name, "minor_units": minor})


@pytest.fixture
def network(db) -> Network:
    _currencies()
    hub = _member(code="HUB", name="Hub", country="MY", currency="MYR", is_operator=True)
    valyou = _member(
        code="VALYOU-MY", name="Valyou", country="MY", currency="MYR", is_sending=True, hosted=True
    )
    partner = _member(
        code="PARTNER-MY", name="Partner", country="MY", currency="MYR", is_sending=True
    )
    tmb = _member(code="TMB-PK", name="TMB", country="PK", currency="PKR", is_receiving=True)
    net = Network(hub=hub, valyou=valyou, partner=partner, tmb=tmb)
    net.members = {m.code: m for m in (hub, valyou, partner, tmb)}
    return net


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (set DATABASE_URL)"
)


def wait_for(predicate, seconds: float = 30.0, interval: float = 0.1) -> bool:
    """Poll until `predicate()` is true; False after `seconds` (for real async components)."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for a child process (worker, simulator) that must use this test's database
    and broker. Only meaningful in transactional tests on PostgreSQL."""
    import os

    from django.conf import settings

    db = connection.settings_dict
    return dict(
        os.environ,
        DATABASE_URL=f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        DJANGO_SETTINGS_MODULE="config.settings.local",
        DEBUG="0",
        **extra,
    )


def spawn(args: list[str], **extra_env: str):
    """Start a child process in its own session (so `stop` can signal its whole group)."""
    import subprocess

    return subprocess.Popen(
        args,
        env=subprocess_env(**extra_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(*procs, kill: bool = False) -> None:
    import os
    import signal
    import subprocess
    from contextlib import suppress

    for proc in procs:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def celery_worker_args(*extra: str) -> list[str]:
    import sys

    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        *extra,
    ]


@pytest.fixture
def real_celery(settings):
    """Producer side for tests with a real worker: tasks go to the broker, not run inline."""
    from django.core.cache import cache

    from config.celery import app as celery_app

    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("needs the Redis broker (set CELERY_BROKER_URL)")
    cache.clear()  # coalescing flags from earlier tests must not swallow this test's requests
    celery_app.conf.task_always_eager = False
    yield celery_app
    celery_app.conf.task_always_eager = True


# --- required capabilities: a skip that CI must not accept --------------------------------------
# `.ci/run` sets REMIT_REQUIRE (e.g. "PostgreSQL,Redis,Chromium"): a test skipped for lack of one
# of those ("needs PostgreSQL …", "needs Redis", "needs Chromium …") fails the run instead of
# passing quietly. Locally nothing is required and the summary says what was skipped and why.

_required_skips: list[str] = []


def _required() -> list[str]:
    import os

    return [c.strip() for c in os.environ.get("REMIT_REQUIRE", "").split(",") if c.strip()]


def pytest_runtest_logreport(report):  # type: ignore[no-untyped-def]
    if not report.skipped:
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    if any(
        reason.startswith(f"Skipped: needs {need}") or f"needs {need}" in reason
        for need in _required()
    ):
        _required_skips.append(f"{report.nodeid}: {reason}")


def pytest_sessionfinish(session, exitstatus):  # type: ignore[no-untyped-def]
    if _required_skips:
        import sys

        sys.stderr.write(
            "\nREQUIRED TESTS WERE SKIPPED (REMIT_REQUIRE="
            + ",".join(_required())
            + "):\n"
            + "\n".join(f"  {line}" for line in _required_skips)
            + "\n"
        )
        session.exitstatus = 1
