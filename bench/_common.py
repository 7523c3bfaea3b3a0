"""Shared set-up for benchmarks: a dedicated PostgreSQL database, Django, the machine line."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def machine() -> str:
    cpu = "unknown cpu"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    pg = ""
    with contextlib.suppress(OSError):
        pg = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; Python {platform.python_version()}; "
        f"{platform.system()} {platform.release()}; {pg}"
    )


def setup_django(db_name: str) -> None:
    """Point Django at a fresh PostgreSQL database `db_name` (dropped and re-created) unless
    DATABASE_URL is given, then migrate."""
    if "DATABASE_URL" not in os.environ:
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-q",
                "-c",
                f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)',
            ],
            check=True,
        )
        subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-q",
                "-c",
                f'CREATE DATABASE "{db_name}"',
            ],
            check=True,
        )
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{db_name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    os.environ.setdefault("REMIT_VAR_DIR", str(ROOT / "var" / "bench"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50, p99
