"""DRF authentication by institution API key: `Authorization: Bearer rk_…`.

`request.user` is the Institution; `request.auth` is the ApiCredential. A client address that
keeps presenting bad keys is answered 429 before its next key is looked up
(core/throttling.py, `API_AUTH_FAILURE_RATE`)."""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions

from core.throttling import auth_failure_record, auth_failures_check
from institutions.models import Institution
from institutions.services import api_credential_authenticate


def caller(request: Any) -> Institution:
    """The institution a partner API request is authenticated as (`request.user`)."""
    user = request.user
    if not isinstance(user, Institution):
        raise exceptions.NotAuthenticated()
    return user


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        auth_failures_check(request)
        scheme, _, key = header.partition(" ")
        if scheme != self.keyword or not key.strip():
            auth_failure_record(request)
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        credential = api_credential_authenticate(api_key=key.strip())
        if credential is None:
            auth_failure_record(request)
            raise exceptions.AuthenticationFailed("Unknown or revoked API key.")
        institution = credential.institution
        institution.is_authenticated = True  # type: ignore[attr-defined]
        return institution, credential

    def authenticate_header(self, request: Any) -> str:
        return self.keyword
