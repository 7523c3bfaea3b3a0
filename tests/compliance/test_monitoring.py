"""Monitoring rules at their edges, the verdict per typology, the interdict decision inside
the submit transaction, and the property that a batch is judged exactly as its orders would
have been one at a time."""

from __future__ import annotations

import copy
import uuid

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compliance.models import Alert, Rule, Typology
from compliance.services.monitoring import (
    Finding,
    PartyHistory,
    rule_backtest,
    rule_fires,
    rule_params_clean,
    verdict,
)
from core.money import Money
from kyc import services as kyc
from ledger.services.accounts import account_open, prefund
from remittance.services.orders import SubmitRequest, orders_submit
from remittance.services.quotes import quote_create
from tests.kyc.conftest import BENEFICIARY
from tests.remittance.conftest import fund, verified_sender

pytestmark = pytest.mark.django_db

VELOCITY = Typology(code="velocity", name="Velocity", review_score=50, interdict_score=100)


def rule(kind: str, params: dict, score: int = 50, code: str = "r") -> Rule:
    rule_params_clean(kind, params)
    return Rule(code=code, kind=kind, params=params, score=score, typology=VELOCITY, version=3)


def fires(r: Rule, amount: str, *, sender=None, beneficiary=None, near=()) -> str | None:
    return rule_fires(
        r,
        amount_minor=Money.parse(amount, "MYR").minor,
        currency="MYR",
        sender=sender or PartyHistory(),
        beneficiary=beneficiary or PartyHistory(),
        sender_ref="kyc_s",
        beneficiary_ref="kyc_b",
        near_miss=set(near),
    )


def history(count: int = 0, amount: str = "0.00", window: str = "day", **kw) -> PartyHistory:
    h = PartyHistory(**kw)
    for w in ("hour", "day", "30d"):
        if w == window or (window == "hour") or (window == "day" and w == "30d"):
            h.count[w] = count
            h.amount[w] = Money.parse(amount, "MYR").minor
    return h


def test_velocity_count_fires_above_the_maximum_counting_the_order_itself():
    r = rule("velocity_count", {"party": "sender", "window": "day", "max_count": 3})
    assert fires(r, "10.00", sender=history(2)) is None  # the 3rd: at the limit
    assert "4 transfers per sender in a day" in fires(r, "10.00", sender=history(3))
    # another window's count does not count
    assert fires(r, "10.00", sender=history(9, window="30d")) is None


def test_velocity_amount_fires_over_the_amount_not_at_it():
    r = rule(
        "velocity_amount",
        {"party": "beneficiary", "window": "hour", "max_amount": "1000.00", "currency": "MYR"},
    )
    assert fires(r, "400.00", beneficiary=history(1, "600.00", "hour")) is None  # = 1000.00
    assert fires(r, "400.01", beneficiary=history(1, "600.00", "hour")) is not None
    assert fires(r, "400.01", sender=history(1, "600.00", "hour")) is None  # the other party
    other = rule(
        "velocity_amount",
        {"party": "sender", "window": "hour", "max_amount": "1.00", "currency": "USD"},
    )
    assert fires(other, "999.00") is None  # rules in another currency do not apply


def test_structuring_counts_amounts_just_under_the_threshold():
    r = rule(
        "structuring",
        {
            "threshold": "3000.00",
            "currency": "MYR",
            "band_percent": 10,
            "window": "day",
            "min_count": 2,
        },
    )
    before = PartyHistory(in_band={"r": 1})
    assert fires(r, "2700.00", sender=before) is not None  # the band's lower edge
    assert fires(r, "2999.99", sender=before) is not None
    assert fires(r, "2699.99", sender=before) is None  # below the band
    assert fires(r, "3000.00", sender=before) is None  # at the threshold: reported anyway
    assert fires(r, "2900.00", sender=PartyHistory()) is None  # the first in the band


def test_round_amounts_from_a_minimum():
    r = rule("round_amount", {"unit": "1000.00", "min_amount": "3000.00", "currency": "MYR"})
    assert fires(r, "3000.00") is not None
    assert fires(r, "2000.00") is None
    assert fires(r, "3000.01") is None
    assert fires(r, "5000.00") is not None


def test_a_new_recipient_receiving_a_large_first_transfer():
    r = rule("new_recipient_large", {"min_amount": "5000.00", "currency": "MYR"})
    assert fires(r, "5000.00") is not None
    assert fires(r, "4999.99") is None
    assert fires(r, "9000.00", beneficiary=PartyHistory(received_before=True)) is None


def test_fan_in_and_fan_out_count_distinct_counterparties_with_this_order():
    fan_in = rule("fan_in", {"window": "day", "min_senders": 3})
    fan_out = rule("fan_out", {"window": "day", "min_beneficiaries": 3})
    two = PartyHistory()
    two.counterparties["day"] = {"kyc_x", "kyc_y"}
    same = PartyHistory()
    same.counterparties["day"] = {"kyc_x", "kyc_s"}  # this sender already counted
    assert fires(fan_in, "1.00", beneficiary=two) is not None
    assert fires(fan_in, "1.00", beneficiary=same) is None
    assert fires(fan_out, "1.00", sender=two) is not None
    assert fires(fan_out, "1.00", beneficiary=two) is None


def test_amount_far_above_the_customers_history():
    r = rule("history_outlier", {"factor": "5", "min_history": 3})
    h = history(3, "300.00", "30d")  # average 100.00
    assert fires(r, "500.00", sender=h) is None  # exactly 5×
    assert fires(r, "500.01", sender=h) is not None
    assert fires(r, "9000.00", sender=history(2, "200.00", "30d")) is None  # too little history


def test_near_miss_on_either_party():
    r = rule("near_miss", {})
    assert fires(r, "1.00", near={"kyc_b"}) is not None
    assert fires(r, "1.00", near={"kyc_other"}) is None


def test_parameters_are_checked_and_say_what_to_write():
    with pytest.raises(ValidationError, match="one of hour, day, 30d"):
        rule_params_clean("fan_in", {"window": "week", "min_senders": 2})
    with pytest.raises(ValidationError, match="missing max_count"):
        rule_params_clean("velocity_count", {"party": "sender", "window": "day"})
    with pytest.raises(ValidationError, match="positive amount"):
        rule_params_clean("round_amount", {"unit": "-1", "min_amount": "1.00", "currency": "MYR"})


def test_scores_add_up_per_typology_against_two_thresholds():
    mule = Typology(code="mule", name="Mule", review_score=50, interdict_score=100)
    types = {"velocity": VELOCITY, "mule": mule}

    def f(typology: str, score: int) -> Finding:
        return Finding("r", 1, typology, score, "why")

    assert verdict([f("velocity", 49)], types).action == ""
    assert verdict([f("velocity", 30), f("velocity", 20)], types).action == "review"
    assert (
        verdict([f("velocity", 60), f("mule", 60)], types).action == "review"
    )  # not summed across
    both = verdict([f("velocity", 60), f("velocity", 40), f("mule", 60)], types)
    assert (both.action, both.typology, both.score) == ("interdict", "velocity", 100)


# --- inside the submit transaction ----------------------------------------------------------

TIGHT = {
    # code: (kind, typology, params, score)
    "t-count": (
        "velocity_count",
        "velocity",
        {"party": "sender", "window": "hour", "max_count": 1},
        60,
    ),
    "t-benef": (
        "velocity_count",
        "velocity",
        {"party": "beneficiary", "window": "hour", "max_count": 1},
        50,
    ),
    "t-amount": (
        "velocity_amount",
        "velocity",
        {"party": "sender", "window": "day", "max_amount": "400.00", "currency": "MYR"},
        50,
    ),
    "t-struct": (
        "structuring",
        "structuring",
        {
            "threshold": "300.00",
            "currency": "MYR",
            "band_percent": 20,
            "window": "day",
            "min_count": 2,
        },
        100,
    ),
    "t-round": (
        "round_amount",
        "profile",
        {"unit": "100.00", "min_amount": "100.00", "currency": "MYR"},
        30,
    ),
    "t-new": ("new_recipient_large", "mule", {"min_amount": "250.00", "currency": "MYR"}, 50),
    "t-fanin": ("fan_in", "mule", {"window": "day", "min_senders": 2}, 50),
    "t-fanout": ("fan_out", "mule", {"window": "day", "min_beneficiaries": 2}, 50),
    "t-outlier": ("history_outlier", "profile", {"factor": "2", "min_history": 1}, 50),
}


@pytest.fixture
def tight_rules(db):
    Rule.objects.update(enabled=False)
    for code, (kind, typology, params, score) in TIGHT.items():
        Rule.objects.create(
            code=code,
            kind=kind,
            typology=Typology.objects.get(code=typology),
            params=params,
            score=score,
            description=code,
            enabled=True,
        )


@pytest.fixture
def hosted(corridor, tight_rules):
    valyou = corridor.network.valyou.institution
    fund(account_open(prefund(valyou, "MYR")), 100_000_000)
    return valyou


def parties(valyou, senders: int, beneficiaries: int) -> tuple[list[str], list[str]]:
    return (
        [verified_sender(valyou).kyc_ref for _ in range(senders)],
        [
            kyc.kyc_record_create(
                owner=valyou, role="beneficiary", data=copy.deepcopy(BENEFICIARY)
            ).kyc_ref
            for _ in range(beneficiaries)
        ],
    )


def request(valyou, sender: str, beneficiary: str, amount: str) -> SubmitRequest:
    quote = quote_create(
        institution=valyou,
        corridor_code="MY-PK",
        payout_method="mobile_wallet",
        send_amount=Money.parse(amount, "MYR"),
    )
    return SubmitRequest(
        sending_institution=valyou,
        order_id=uuid.uuid4(),
        quote_id=quote.pk,
        sender_kyc_ref=sender,
        beneficiary_kyc_ref=beneficiary,
    )


def outcome(results) -> list[tuple[str, tuple[str, ...]]]:
    shown = []
    for result in results:
        if isinstance(result, Exception):
            shown.append((getattr(result, "code", "error"), ()))
            continue
        actions = tuple(Alert.objects.filter(order_id=result.pk).values_list("action", flat=True))
        shown.append((result.status, actions))
    return shown


def test_an_interdicted_order_is_held_before_the_receiving_bank_is_told(hosted):
    (s,), (b1, b2) = parties(hosted, 1, 2)
    first, second = orders_submit(
        [request(hosted, s, b1, "290.00"), request(hosted, s, b2, "280.00")]
    )
    assert first.status == "submitted"
    # the second: 2 in the structuring band (100) + velocity 60 + 50 ... → interdict
    assert second.status == "held" and second.hold_reason == "monitoring"
    alert = Alert.objects.get(order_id=second.pk)
    assert alert.action == "interdict" and {f["rule"] for f in alert.findings} >= {"t-struct"}


def test_back_test_counts_what_a_rule_would_have_flagged(hosted):
    (s,), (b1, b2) = parties(hosted, 1, 2)
    orders_submit([request(hosted, s, b1, "100.00"), request(hosted, s, b2, "150.00")])
    draft = Rule(
        code="draft",
        kind="round_amount",
        typology=Typology.objects.get(code="profile"),
        params={"unit": "50.00", "min_amount": "100.00", "currency": "MYR"},
        score=10,
        description="draft",
    )
    result = rule_backtest(rule=draft)
    assert (result.orders, result.flagged, result.senders) == (2, 2, 1)
    draft.params = {"unit": "100.00", "min_amount": "100.00", "currency": "MYR"}
    assert rule_backtest(rule=draft).flagged == 1


AMOUNTS = ["100.00", "150.00", "245.00", "250.00", "290.00", "300.00", "420.00"]


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(st.integers(0, 1), st.integers(0, 2), st.sampled_from(AMOUNTS)),
        min_size=1,
        max_size=6,
    )
)
def test_a_batch_is_judged_as_its_orders_would_be_one_at_a_time(hosted, shape):
    """Fresh parties per run, so each example starts from no history."""
    batch_s, batch_b = parties(hosted, 2, 3)
    alone_s, alone_b = parties(hosted, 2, 3)
    together = orders_submit(
        [request(hosted, batch_s[s], batch_b[b], amount) for s, b, amount in shape]
    )
    alone = [
        orders_submit([request(hosted, alone_s[s], alone_b[b], amount)])[0]
        for s, b, amount in shape
    ]
    assert outcome(together) == outcome(alone)
