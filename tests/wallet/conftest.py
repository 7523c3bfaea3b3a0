"""The wallet tests use the remittance fixtures: a priced corridor and a funded wallet user."""

from tests.remittance.conftest import corridor, wallet_customer  # noqa: F401
