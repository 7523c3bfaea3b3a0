"""The network's named accounts: the one place their codes are spelled and the one way they are
opened on first use.

A code names one account forever (`account_get_or_create` refuses a second meaning) and is
what replay, reconciliation and the operator see on the log, so every caller — orders,
settlement windows, liquidity, reconciliation — builds codes here rather than writing
`f"position:{code}:{currency}"` again. An account that exists is used as it is: its flags
(a prefund limit the operator set) are the operator's, not the caller's.

| account | code | kind | owner |
|---|---|---|---|
| an institution's settlement position | `position:<institution>:<currency>` | position | the institution |
| what an external sender prefunded (or owes) | `prefund:<institution>:<currency>` | funding | the institution |
| fees a sending institution earned | `fee_income:<institution>:<currency>` | fee_income | the institution |
| the hub's FX position per currency | `fx_position:<currency>` | fx_position | — |
| FX gain/loss per currency | `fx_pnl:<currency>` | fx_position | — |
| the hub's settlement bank account | `settlement_bank:<currency>` | funding | — |
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from institutions.models import Institution
from ledger.models import Account, AccountKind
from ledger.services.money import account_get_or_create


@dataclass(frozen=True)
class AccountName:
    """What a named account is: enough to open it if it does not exist yet."""

    code: str
    kind: str
    currency: str
    institution: Institution | None = None


def position(institution: Institution, currency: str) -> AccountName:
    return AccountName(
        f"position:{institution.code}:{currency}", AccountKind.POSITION, currency, institution
    )


def position_code(institution_code: str, currency: str) -> str:
    """The position's code alone (for reads that must not open it)."""
    return f"position:{institution_code}:{currency}"


def prefund(institution: Institution, currency: str) -> AccountName:
    return AccountName(
        f"prefund:{institution.code}:{currency}", AccountKind.FUNDING, currency, institution
    )


def fee_income(institution: Institution, currency: str) -> AccountName:
    return AccountName(
        f"fee_income:{institution.code}:{currency}", AccountKind.FEE_INCOME, currency, institution
    )


def fx_position(currency: str) -> AccountName:
    return AccountName(f"fx_position:{currency}", AccountKind.FX_POSITION, currency)


def fx_pnl(currency: str) -> AccountName:
    return AccountName(f"fx_pnl:{currency}", AccountKind.FX_POSITION, currency)


def settlement_bank(currency: str) -> AccountName:
    return AccountName(f"settlement_bank:{currency}", AccountKind.FUNDING, currency)


def accounts_open(names: Iterable[AccountName]) -> dict[str, Account]:
    """The named accounts by code, in one query; any missing is opened (each opening is a
    `ledger.account_opened` statement)."""
    wanted = {name.code: name for name in names}
    found = {a.code: a for a in Account.objects.filter(code__in=list(wanted))}
    for code, name in wanted.items():
        if code not in found:
            found[code] = account_get_or_create(
                code=code, kind=name.kind, currency=name.currency, institution=name.institution
            )
    return found


def account_open(name: AccountName) -> Account:
    """One named account (`accounts_open` of one)."""
    return accounts_open([name])[name.code]
