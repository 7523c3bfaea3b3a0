from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import NotFound
from core.money import Money
from kyc import services

MYR_USD = Decimal("0.2250")  # USD per MYR


def _record(network, role, data):
    return services.kyc_record_create(owner=network.valyou.institution, role=role, data=data)


@pytest.mark.django_db
def test_complete_parties_pass_at_any_amount(sender, beneficiary):
    for amount in ("100.00", "4444.45", "50000.00"):
        assert (
            services.travel_rule_missing(
                originator_ref=sender.kyc_ref,
                beneficiary_ref=beneficiary.kyc_ref,
                amount=Money.parse(amount, "MYR"),
                usd_rate=MYR_USD,
            )
            == []
        )


@pytest.mark.django_db
def test_threshold_refuses_an_originator_without_account_or_reference(
    network, sender_data, beneficiary
):
    del sender_data["account"]
    originator = _record(network, "sender", sender_data)

    def missing(amount: str, rate=MYR_USD):
        return services.travel_rule_missing(
            originator_ref=originator.kyc_ref,
            beneficiary_ref=beneficiary.kyc_ref,
            amount=Money.parse(amount, "MYR"),
            usd_rate=rate,
        )

    assert missing("4444.44") == []  # 999.999 USD: below the threshold
    assert missing("4444.45") == ["originator.account_or_reference"]  # 1,000.00 USD
    assert missing("100.00", rate=None) == ["originator.account_or_reference"]  # no rate: strict
    sender_data["reference"] = "VALYOU-CUST-0042"
    with_reference = _record(network, "sender", sender_data)
    assert (
        services.travel_rule_missing(
            originator_ref=with_reference.kyc_ref,
            beneficiary_ref=beneficiary.kyc_ref,
            amount=Money.parse("9000.00", "MYR"),
            usd_rate=MYR_USD,
        )
        == []
    )


@pytest.mark.django_db
def test_threshold_is_configurable(settings, network, sender_data, beneficiary):
    del sender_data["account"]
    originator = _record(network, "sender", sender_data)
    settings.KYC_TRAVEL_RULE_THRESHOLD_USD = "0"
    assert services.travel_rule_missing(
        originator_ref=originator.kyc_ref,
        beneficiary_ref=beneficiary.kyc_ref,
        amount=Money.parse("1.00", "USD"),
        usd_rate=None,
    ) == ["originator.account_or_reference"]


@pytest.mark.django_db
def test_beneficiary_name_and_account_are_needed_at_any_amount(network, sender):
    no_account = _record(network, "beneficiary", {"name": {"given": "Rukhsana"}})
    assert services.travel_rule_missing(
        originator_ref=sender.kyc_ref,
        beneficiary_ref=no_account.kyc_ref,
        amount=Money.parse("10.00", "MYR"),
        usd_rate=MYR_USD,
    ) == ["beneficiary.account"]


@pytest.mark.django_db
def test_unknown_swapped_or_erased_records_are_reported(network, sender, beneficiary):
    assert services.travel_rule_missing(
        originator_ref=beneficiary.kyc_ref,
        beneficiary_ref="kyc_" + "z" * 26,
        amount=Money.parse("10.00", "MYR"),
        usd_rate=MYR_USD,
    ) == [
        "originator.role",
        "originator.date_of_birth",
        "beneficiary.record",
    ]
    services.kyc_record_erase(record=sender, reason="test", actor="staff:amina")
    assert services.travel_rule_missing(
        originator_ref=sender.kyc_ref,
        beneficiary_ref=beneficiary.kyc_ref,
        amount=Money.parse("10.00", "MYR"),
        usd_rate=MYR_USD,
    ) == ["originator.record"]


@pytest.mark.django_db
def test_tier_limits_apply_to_verified_records_only(settings, sender):
    zero = services.tier_limits(record=sender, corridor_code="MY-PK")
    assert zero.per_transaction == Money.zero("MYR") == zero.monthly
    services.kyc_record_status_set(
        record=sender, status="verified", reason="documents checked", actor="staff:amina"
    )
    sender.refresh_from_db()
    limits = services.tier_limits(record=sender, corridor_code="MY-PK")
    assert limits == services.Limits(
        Money.parse("3000.00", "MYR"), Money.parse("3000.00", "MYR"), Money.parse("10000.00", "MYR")
    )
    services.kyc_record_status_set(
        record=sender, status="verified", tier=2, reason="EDD passed", actor="staff:amina"
    )
    sender.refresh_from_db()
    assert services.tier_limits(record=sender, corridor_code="MY-PK").daily == Money.parse(
        "10000.00", "MYR"
    )
    settings.KYC_TIER_LIMITS = {
        "MY-PK": {
            "currency": "MYR",
            "tiers": {"2": {"per_transaction": "1.00", "daily": "2.00", "monthly": "3.00"}},
        }
    }
    assert services.tier_limits(record=sender, corridor_code="MY-PK").monthly == Money.parse(
        "3.00", "MYR"
    )
    with pytest.raises(NotFound):
        services.tier_limits(record=sender, corridor_code="SG-PK")
