"""How the wallet reaches a customer with a one-time code: e-mail through Django's
EMAIL_BACKEND (console in development, SMTP in production), a text message through
WALLET_SMS_BACKEND. Nothing here logs the code or the address."""

from __future__ import annotations

import sys
from typing import Protocol

from django.conf import settings
from django.core.mail import send_mail
from django.utils.module_loading import import_string


class SmsBackend(Protocol):
    def send(self, *, to: str, text: str) -> None: ...


class ConsoleSms:
    """Development: the message is printed by the process that sent it, like Django's console
    e-mail backend."""

    def send(self, *, to: str, text: str) -> None:
        sys.stdout.write(f"-- SMS to {to} --\n{text}\n-- end of SMS --\n")
        sys.stdout.flush()


class SmsUnavailable(Exception):
    """No text-message provider is configured (production without WALLET_SMS_BACKEND)."""


class NoSms:
    """Production's default until a provider is configured: refuses, never prints a code."""

    def send(self, *, to: str, text: str) -> None:
        raise SmsUnavailable("WALLET_SMS_BACKEND is not configured")


class MemorySms:
    """Tests: messages are kept in `outbox` as (to, text)."""

    outbox: list[tuple[str, str]] = []

    def send(self, *, to: str, text: str) -> None:
        MemorySms.outbox.append((to, text))


def sms_available() -> bool:
    return import_string(settings.WALLET_SMS_BACKEND) is not NoSms


def sms_send(*, to: str, text: str) -> None:
    backend: SmsBackend = import_string(settings.WALLET_SMS_BACKEND)()
    backend.send(to=to, text=text)


def email_send(*, to: str, subject: str, text: str) -> None:
    send_mail(subject, text, None, [to])
