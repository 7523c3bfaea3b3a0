import uuid

import pytest

from wallet.references import ALPHABET, order_reference, reference_normalise


def test_reference_is_stable_and_readable():
    order_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert order_reference(order_id) == "9RT0-S0ZD"
    assert order_reference(str(order_id)) == "9RT0-S0ZD"


def test_references_use_only_unambiguous_characters_and_differ_between_orders():
    refs = {order_reference(uuid.uuid4()) for _ in range(2000)}
    assert len(refs) == 2000
    for ref in refs:
        assert len(ref) == 9 and ref[4] == "-"
        assert set(ref.replace("-", "")) <= set(ALPHABET)
        assert not set(ref) & set("ILOU")


@pytest.mark.parametrize(
    "typed", ["9RT0-S0ZD", "9rt0-s0zd", "9RT0S0ZD", " 9rt0 s0zd ", "9RTO-SOZD"]
)
def test_what_a_customer_types_back_is_normalised(typed):
    assert reference_normalise(typed) == "9RT0-S0ZD"


@pytest.mark.parametrize("typed", ["", "9RT0-S0Z", "9RT0-S0ZDX", "9RT0-S0Z!", "9RTU-S0ZD"])
def test_not_a_reference(typed):
    assert reference_normalise(typed) is None
