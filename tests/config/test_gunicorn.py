"""Every web process runs gunicorn with config/gunicorn.conf.py, whose access log never carries
a query string (or a Referer), so a credential in a URL cannot reach the log."""

from __future__ import annotations

import re
import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "config" / "gunicorn.conf.py"


def gunicorn_settings() -> dict:
    return runpy.run_path(str(CONF))


def _access_line(environ: dict) -> str:
    cfg = Config()
    for name, value in gunicorn_settings().items():
        if name in cfg.settings:
            cfg.set(name, value)
    logger = Logger(cfg)
    response = SimpleNamespace(status="200 OK", sent=17, headers=[])
    request = SimpleNamespace(headers=[])
    atoms = logger.atoms(response, request, environ, timedelta(milliseconds=12))
    return cfg.access_log_format % logger.atoms_wrapper_class(atoms)


def test_the_access_log_has_the_path_but_not_the_query_string():
    line = _access_line(
        {
            "REQUEST_METHOD": "GET",
            "RAW_URI": "/api/v1/orders?api_key=rk_0123abcd_SECRET&q=Aisha",
            "PATH_INFO": "/api/v1/orders",
            "QUERY_STRING": "api_key=rk_0123abcd_SECRET&q=Aisha",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "203.0.113.5",
            "HTTP_REFERER": "https://hub.example/admin/kyc/kycrecord/?q=Aisha+Khan",
            "HTTP_USER_AGENT": "partner-sdk",
        }
    )
    assert '"GET /api/v1/orders HTTP/1.1" 200' in line
    assert "SECRET" not in line
    assert "Aisha" not in line


@pytest.mark.parametrize("launcher", ["Procfile", "Procfile.dev", "Dockerfile", "compose.yaml"])
def test_every_gunicorn_launcher_uses_the_shared_config(launcher):
    text = (ROOT / launcher).read_text()
    commands = [line for line in text.splitlines() if "gunicorn" in line and "config.wsgi" in line]
    assert commands, f"no gunicorn command in {launcher}"
    for command in commands:
        assert re.search(r'(-c|--config)"?,?\s*"?config/gunicorn\.conf\.py', command), command
        assert "--access-logformat" not in command and "--access-logfile" not in command
