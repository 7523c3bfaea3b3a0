"""Authentication backends for the test settings only."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend


class AxesBackendAllowingClientLogin(AxesStandaloneBackend):
    """django-axes' lockout check, except for `Client.login()`, which authenticates without a
    request (axes would raise AxesBackendRequestParameterRequired). A login through a login
    view always carries its request, so the lockout tests exercise the real check."""

    def authenticate(self, request: Any, *args: Any, **kwargs: Any) -> None:
        if request is None:
            return None
        return super().authenticate(request, *args, **kwargs)
