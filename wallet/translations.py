"""Compile locale/*/LC_MESSAGES/django.po to .mo with Babel (pure Python), so the wallet's
languages work on a machine without GNU gettext. Run by `manage.py translations compile`
(`make migrate`) and, for a .mo missing or older than its .po, when the app starts."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings


def catalogs() -> list[Path]:
    found: list[Path] = []
    for root in settings.LOCALE_PATHS:
        found.extend(sorted(Path(root).glob("*/LC_MESSAGES/*.po")))
    return found


def compile_catalog(po: Path) -> Path:
    mo = po.with_suffix(".mo")
    with po.open("rb") as source:
        catalog = read_po(source, locale=po.parent.parent.name)
    tmp = mo.with_suffix(".mo.tmp")
    with tmp.open("wb") as target:
        write_mo(target, catalog, use_fuzzy=False)
    tmp.replace(mo)
    return mo


def compile_stale(*, force: bool = False) -> list[Path]:
    """Compile each catalog whose .mo is missing or older than its .po; the ones written."""
    written = []
    for po in catalogs():
        mo = po.with_suffix(".mo")
        if force or not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            written.append(compile_catalog(po))
    return written
