"""Real-browser tests: Playwright for Python driving Debian's Chromium (no browser download).

- `chromium`: one browser for the session; a test that needs it is skipped with "needs
  Chromium" when /usr/bin/chromium (CHROMIUM) or the playwright package is missing — and CI,
  which sets REMIT_REQUIRE=…,Chromium, fails instead (tests/conftest.py).
- `page_at(width, lang)`: a fresh page (context) at a viewport width, `Accept-Language` set.
- `axe_violations(page)`: axe-core's violations on the page as loaded (axe-core is fetched from
  the npm registry by `make browser-deps` into var/vendor/, never committed).
- `shot(page, name)`: a full-page PNG under var/artifacts/screenshots/ (kept by CI).

Pages are served by pytest-django's `live_server` (a real HTTP server on 127.0.0.1 with the
test database); tests that need a Celery worker or the simulator start them as processes
(tests/conftest.py helpers).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

# the priced corridor and the funded wallet user the journeys start from
from tests.remittance.conftest import corridor, wallet_customer  # noqa: F401

# Playwright's sync API keeps an asyncio loop on the test's thread; Django's database calls in
# the test (and its teardown) are still synchronous, which its async-safety check cannot tell.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE = Path(settings.BASE_DIR) / "var" / "vendor" / "axe.min.js"
SHOTS = Path(os.environ.get("REMIT_ARTIFACTS", Path(settings.BASE_DIR) / "var" / "artifacts"))
SHOTS = SHOTS / "screenshots"
PHONE, DESKTOP = 390, 1280


def _browser_missing() -> str | None:
    if not Path(CHROMIUM).exists():
        return f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "needs Chromium: the playwright package is not installed"
    return None


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        yield browser
        browser.close()


@pytest.fixture
def page_at(chromium: Any) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def make(width: int = DESKTOP, lang: str = "en", timezone_id: str = "Asia/Kuala_Lumpur") -> Any:
        context = chromium.new_context(
            viewport={"width": width, "height": 844 if width <= PHONE else 900},
            locale={"en": "en-MY", "ms": "ms-MY", "ur": "ur-PK"}.get(lang, lang),
            extra_http_headers={"Accept-Language": lang},
            timezone_id=timezone_id,
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def axe_violations(page: Any, *, tags: tuple[str, ...] = ("wcag2a", "wcag2aa")) -> list[dict]:
    """axe-core's violations (id, impact, help, the first nodes) for the page as it is now."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make browser-deps`")
    # evaluated through the DevTools protocol, which the page's CSP does not govern (a <script>
    # tag would be refused by script-src 'self', as it should be)
    page.evaluate(AXE.read_text())
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        list(tags),
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"][:3]],
        }
        for v in result["violations"]
    ]


def shot(page: Any, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- SQLite: a live-server test's flush meets the append-only triggers ----------------------
# pytest-django empties every table after a transactional test (flush). PostgreSQL truncates,
# which row triggers do not see; SQLite deletes row by row and the ledger's and the KYC log's
# append-only triggers refuse it. Around the teardown of a browser test on SQLite, the
# DELETE-refusing triggers are dropped, the flush runs, and they are created again from the
# SQL SQLite kept of them, so the next test (of any module) meets them as migrated.


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: Any, nextitem: Any) -> Iterator[None]:
    from django.db import connection

    if connection.vendor != "sqlite" or item.get_closest_marker("django_db") is None:
        yield
        return
    blocker = item._request.getfixturevalue("django_db_blocker")
    with blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND sql LIKE '%DELETE%'"
        )
        triggers = cursor.fetchall()
        for name, _sql in triggers:
            cursor.execute(f'DROP TRIGGER "{name}"')
    try:
        yield
    finally:
        if nextitem is not None:  # after the last test the test database itself is gone
            with blocker.unblock(), connection.cursor() as cursor:
                for _name, sql in triggers:
                    cursor.execute(sql)
