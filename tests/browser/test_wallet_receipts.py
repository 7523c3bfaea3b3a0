"""Receipts, the verify page, history and notices in Chromium: English and Urdu (right to
left), at 390 px and 1280 px, axe-core finding nothing, a screenshot of every step.

The verify page checks the transfer's ledger entries with the browser's own WebCrypto; the
same page shown a proof with one byte changed (intercepted on its way from the server) must
say it does not verify."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from ledger.selectors.log import checkpoint_latest
from ledger.services.log import cosignature_add
from ledger.services.witnesses import witness_register
from partner_sdk.note import cosign
from tests.conftest import requires_postgres
from tests.wallet.transfers import (
    recipient_add,
    transfer_deliver,
    transfer_reject,
    transfer_send,
)
from wallet.notices.models import Notification
from wallet.references import order_reference

from .conftest import DESKTOP, PHONE, SHOTS, axe_violations, shot

# the ledger and KYC tables are append-only (triggers): only PostgreSQL can empty them after a
# transactional test
pytestmark = [pytest.mark.django_db(transaction=True), requires_postgres]

PAGES_CHECKED: list[str] = []


@pytest.fixture
def transfers(corridor, wallet_customer):
    """Two past transfers (one delivered and witnessed, one refunded) and a notice."""
    delivered = transfer_send(wallet_customer, recipient_add(wallet_customer))
    transfer_deliver(corridor, delivered, payout_reference="EP-20261202-7781")
    refunded = transfer_send(
        wallet_customer, recipient_add(wallet_customer, hint="••••9911"), "20.00"
    )
    transfer_reject(corridor, refunded)
    tmb = corridor.network.tmb
    witness_register(institution=tmb.institution)
    latest = checkpoint_latest()
    cosignature_add(
        institution=tmb.institution,
        checkpoint_text=latest.body,
        cosignature_line=cosign(
            latest.body, name=tmb.code, private_key=tmb.private_key, timestamp=1_764_633_600
        ),
    )
    Notification.objects.get_or_create(user=wallet_customer.user, kind="delivered", order=delivered)
    return delivered, refunded


def _logged_in(page_at, live_server, width: int, lang: str):
    client = Client()
    assert client.login(username="aisha", password="pw-aisha-123")
    page = page_at(width, lang)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    return page


def _check(page, name: str, lang: str) -> None:
    """The page is in the language asked for, has no horizontal scroll, and axe finds nothing."""
    assert page.locator("html").get_attribute("dir") == ("rtl" if lang == "ur" else "ltr")
    scroll = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert scroll <= 0, f"{name}: scrolls sideways by {scroll}px"
    shot(page, name)
    assert axe_violations(page) == [], name
    PAGES_CHECKED.append(name)


@pytest.mark.parametrize("lang", ["en", "ur"])
@pytest.mark.parametrize("width", [PHONE, DESKTOP])
def test_receipt_verify_history_and_notices(live_server, page_at, transfers, width, lang):
    delivered, refunded = transfers
    reference = order_reference(delivered.pk)
    page = _logged_in(page_at, live_server, width, lang)
    tag = f"{lang}-{width}"

    page.goto(f"{live_server.url}/wallet/transfers/{delivered.pk}/receipt")
    assert page.locator(".r-ref").inner_text() == reference
    assert page.get_by_text("EP-20261202-7781").is_visible()
    assert page.locator("img[src^='data:image/svg+xml']").is_visible()
    _check(page, f"receipts-receipt-{tag}", lang)
    for link in page.locator(".r-actions a").all():
        box = link.bounding_box()
        assert box and box["height"] >= 44, "touch targets are at least 44 px tall"

    page.locator(f"a[href$='/transfers/{delivered.pk}/verify']").click()
    page.wait_for_selector("#verify[data-state=passed]")
    results = page.locator("#verify-checks li[data-result]")
    assert results.count() >= 7  # operator, witness, and for each entry: included and signed
    assert page.locator("#verify-checks li[data-result=failed]").count() == 0
    assert page.locator("#verify-summary").get_attribute("aria-live") == "polite"
    _check(page, f"receipts-verify-passed-{tag}", lang)

    page.goto(f"{live_server.url}/wallet/transfers/?status=delivered")
    assert page.locator(".r-ref", has_text=reference).is_visible()
    assert page.locator(".r-ref", has_text=order_reference(refunded.pk)).count() == 0
    _check(page, f"receipts-history-{tag}", lang)

    page.goto(f"{live_server.url}/wallet/notices")
    _check(page, f"receipts-notices-{tag}", lang)

    page.goto(f"{live_server.url}/wallet/no-such-page")
    _check(page, f"receipts-404-{tag}", lang)


@pytest.mark.parametrize("lang", ["en", "ur"])
def test_verify_fails_when_one_byte_of_the_proof_is_changed(live_server, page_at, transfers, lang):
    delivered, _ = transfers
    page = _logged_in(page_at, live_server, PHONE, lang)

    def tamper(route):
        bundle = route.fetch().json()
        proof = bytearray(base64.b64decode(bundle["entries"][0]["proof"][0]))
        proof[7] ^= 0x01
        bundle["entries"][0]["proof"][0] = base64.b64encode(bytes(proof)).decode()
        route.fulfill(status=200, content_type="application/json", body=json.dumps(bundle))

    page.route("**/proof.json", tamper)
    page.goto(f"{live_server.url}/wallet/transfers/{delivered.pk}/verify")
    page.wait_for_selector("#verify[data-state=failed]")
    failed = page.locator("#verify-checks li[data-result=failed]")
    assert failed.count() == 1  # exactly the entry whose proof was changed
    assert (
        "#"
        + str(
            json.loads(
                page.evaluate(
                    "fetch(document.getElementById('verify').dataset.proofUrl).then(r => r.text())"
                )
            )["entries"][0]["seq"]
        )
        in failed.inner_text()
    )
    _check(page, f"receipts-verify-tampered-{lang}-{PHONE}", lang)


def test_receipt_pdf_downloads(live_server, page_at, transfers):
    delivered, _ = transfers
    page = _logged_in(page_at, live_server, DESKTOP, "en")
    page.goto(f"{live_server.url}/wallet/transfers/{delivered.pk}/receipt")
    with page.expect_download() as download:
        page.locator("a[href$='receipt.pdf']").click()
    target = Path(SHOTS).parent / "receipts" / download.value.suggested_filename
    target.parent.mkdir(parents=True, exist_ok=True)
    download.value.save_as(target)
    assert target.read_bytes().startswith(b"%PDF-")
    assert order_reference(delivered.pk) in download.value.suggested_filename
    if shutil.which("pdftoppm"):  # poppler-utils: the first page as a PNG to look at
        png = target.with_suffix("")
        subprocess.run(["pdftoppm", "-png", "-r", "80", "-singlefile", target, png], check=True)
        assert png.with_suffix(".png").stat().st_size > 10_000


def test_a_customer_cannot_open_another_customers_receipt(
    live_server,
    page_at,
    transfers,
    django_user_model,
    wallet_customer,
):
    from remittance.models import Customer

    delivered, _ = transfers
    user = django_user_model.objects.create_user("bilal", password="pw-bilal-123")
    Customer.objects.create(user=user, institution=wallet_customer.institution)
    client = Client()
    assert client.login(username="bilal", password="pw-bilal-123")
    page = page_at(PHONE, "en")
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    for suffix in ("receipt", "verify", "proof.json"):
        response = page.goto(f"{live_server.url}/wallet/transfers/{delivered.pk}/{suffix}")
        assert response is not None and response.status == 404
