"""The compliance console's main staff journeys in Chromium against a live server, each
decision by two people with different roles: a held order released and credited; an alert
escalated to a case and its goAML report downloaded; a settlement window settled. The
dashboard and a four-eyes approval page are screenshotted (var/artifacts/screenshots/)."""

from __future__ import annotations

import copy
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from compliance.models import Alert, Case, Proposal
from compliance.roles import roles_sync
from kyc import services as kyc
from remittance.models import RemittanceOrder
from tests.kyc.conftest import BENEFICIARY, SAMPLES
from tests.wallet.test_journeys import _deliver

from .conftest import DESKTOP, axe_violations, shot

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "pw-staff-123456"
LISTED = {"given": "Mohammed Abdulrahman", "family": "Qurayshi"}


@pytest.fixture
def roles(db):
    roles_sync()  # a transactional test starts from flushed tables
    made = {}
    for username, role in (
        ("officer", "compliance_officer"),
        ("mlro", "mlro"),
        ("ops", "operator"),
        ("ops2", "operator"),
    ):
        user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        made[username] = user
    return made


def log_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/admin/logout/") if False else None
    page.context.clear_cookies()
    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("input[type=submit]").click()
    page.wait_for_url(f"{base}/admin/")


def _held(customer) -> RemittanceOrder:
    from core.money import Money
    from remittance.services.orders import order_submit
    from remittance.services.quotes import quote_create

    kyc.screening_list_import(
        fmt="un-xml", content=(SAMPLES / "un_consolidated.xml").read_bytes(), actor="test"
    )
    data = copy.deepcopy(BENEFICIARY)
    data["name"] = LISTED
    ref = kyc.kyc_record_create(owner=customer.institution, role="beneficiary", data=data).kyc_ref
    quote = quote_create(
        institution=customer.institution,
        customer=customer,
        corridor_code="MY-PK",
        payout_method="mobile_wallet",
        send_amount=Money.parse("100.00", "MYR"),
    )
    return order_submit(
        sending_institution=customer.institution,
        order_id=uuid.uuid4(),
        quote_id=quote.pk,
        sender_kyc_ref=customer.kyc_ref,
        beneficiary_kyc_ref=ref,
        customer=customer,
    )


def test_held_order_released_by_a_second_person_and_credited(
    live_server,
    page_at,
    corridor,
    wallet_customer,
    roles,
):
    order = _held(wallet_customer)
    assert order.status == "held"
    base = live_server.url
    page = page_at(DESKTOP)

    log_in(page, base, "officer")
    shot(page, "compliance-dashboard-officer")
    page.goto(f"{base}/admin/remittance/remittanceorder/?status__exact=held")
    page.check(f"input[name=_selected_action][value='{order.pk}']")
    page.select_option("select[name=action]", "propose_release")
    page.locator("button[name=index]").click()
    page.fill("#id_reason", "Name differs from the listed person: date of birth checked")
    shot(page, "compliance-propose-release")
    page.locator("input[name=confirm]").click()
    assert "waiting for a second person" in page.locator(".messagelist").inner_text()
    proposal = Proposal.objects.get()
    page.goto(f"{base}/admin/compliance/proposal/{proposal.pk}/decide/")
    assert page.locator("input[name=approve]").count() == 0  # the proposer cannot approve
    assert "You proposed this" in page.locator("#content-main").inner_text()

    log_in(page, base, "mlro")
    page.goto(f"{base}/admin/")
    assert "Proposals awaiting approval" in page.locator("#dashboard").inner_text()
    shot(page, "compliance-dashboard")
    page.goto(f"{base}/admin/compliance/proposal/")
    page.get_by_role("link", name="Review and decide").click()
    assert "What approving will do" in page.locator("#content-main").inner_text()
    assert "100.00 MYR" in page.locator("#content-main").inner_text()
    shot(page, "compliance-four-eyes-approval")
    violations = axe_violations(page)
    page.locator("input[name=approve]").click()
    assert "Approved" in page.locator(".messagelist").inner_text()
    order.refresh_from_db()
    assert order.status == "submitted"
    _deliver(corridor, order)  # the receiving bank accepts and credits
    order.refresh_from_db()
    assert order.status == "credited"
    page.goto(f"{base}/admin/remittance/remittanceorder/{order.pk}/change/")
    text = page.locator("#content-main").inner_text()
    assert "credited" in text and "100.00 MYR" in text
    assert page.locator("input[name=_save]").count() == 0  # read-only: no Save
    shot(page, "compliance-order-credited")
    assert [v for v in violations if v["impact"] in ("serious", "critical")] == []


def test_alert_to_case_to_report_downloaded(
    live_server,
    page_at,
    corridor,
    wallet_customer,
    roles,
    tmp_path,
):
    from tests.compliance.conftest import beneficiary, send

    order = send(wallet_customer, beneficiary(wallet_customer.institution), "290.00")
    alert = Alert.objects.create(
        ref="alr_" + "a" * 26,
        source="monitoring",
        action="review",
        order_id=order.pk,
        kyc_ref=order.sender_kyc_ref,
        typology="structuring",
        score=60,
        amount_minor=order.send_minor,
        currency="MYR",
        findings=[
            {
                "rule": "structuring-3000-day",
                "version": 1,
                "typology": "structuring",
                "score": 60,
                "why": "2 transfers just under 3,000.00 MYR in a day",
            }
        ],
    )
    base = live_server.url
    page = page_at(DESKTOP)
    log_in(page, base, "officer")
    page.goto(f"{base}/admin/compliance/alert/?status__exact=open")
    assert "290.00 MYR" in page.locator("#result_list").inner_text()
    page.check(f"input[name=_selected_action][value='{alert.pk}']")
    page.select_option("select[name=action]", "escalate")
    page.locator("button[name=index]").click()
    page.fill("#id_reason", "Structuring under the travel-rule threshold")
    page.locator("input[name=confirm]").click()
    case = Case.objects.get()
    page.wait_for_url(f"**/admin/compliance/case/{case.pk}/work/")
    page.fill("#id_note-text", "Customer says it is rent; asked for the contract.")
    page.locator("form:has(#id_note-text) input[type=submit]").click()
    assert "asked for the contract" in page.locator("#content-main").inner_text()
    shot(page, "compliance-case")

    log_in(page, base, "mlro")
    page.goto(f"{base}/admin/compliance/case/{case.pk}/work/")
    with page.expect_download() as download:
        page.get_by_role("link", name="Suspicious transaction report (goAML XML)").click()
    path = tmp_path / "report.xml"
    download.value.save_as(path)
    content = path.read_bytes()
    assert b"<report_code>STR</report_code>" in content and str(order.pk).encode() in content
    from compliance.services.reports import goaml_validate

    assert goaml_validate(content) == []


def test_settle_a_window_with_four_eyes(live_server, page_at, corridor, roles):
    from settlement.models import SettlementWindow
    from settlement.services import windows
    from tests.ledger.helpers import witnesses_catch_up
    from tests.settlement.conftest import credited_order

    credited_order(corridor, "1000.00")
    window = SettlementWindow.objects.get(status="open")
    windows.window_close_request(window_id=window.pk, actor="test")
    windows.window_close(window_id=window.pk)
    witnesses_catch_up(corridor.network)
    base = live_server.url
    page = page_at(DESKTOP)
    log_in(page, base, "ops")
    dashboard = page.locator("#dashboard").inner_text()
    assert "Positions against liquidity limits" in dashboard and "Ledger integrity" in dashboard
    shot(page, "compliance-dashboard-operator")
    page.goto(f"{base}/admin/settlement/settlementwindow/{window.pk}/settle/")
    text = page.locator("#content-main").inner_text()
    assert "latest market rate 63.5" in text  # suggested, and the FX result beside it
    page.fill("#id_settlement_rate", "63.2")
    page.fill("#id_reason", "Treasury rate of the day")
    page.locator("input[name=preview]").click()
    assert "proposed rate 63.2" in page.locator("#content-main").inner_text()
    shot(page, "compliance-settle-preview")
    page.locator("input[name=confirm]").click()
    window.refresh_from_db()
    assert window.status == "closed"

    log_in(page, base, "ops2")
    page.goto(f"{base}/admin/compliance/proposal/")
    page.get_by_role("link", name="Review and decide").click()
    shot(page, "compliance-settle-approval")
    page.locator("input[name=approve]").click()
    window.refresh_from_db()
    assert window.status == "settled" and str(window.settlement_rate).startswith("63.2")
    page.goto(f"{base}/admin/settlement/settlementwindow/{window.pk}/settle/")
    assert "already settled" in page.locator(".messagelist").inner_text()
