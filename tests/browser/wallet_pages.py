"""Helpers for the wallet's browser journeys: every page a journey reaches is checked the same
way (`page_check`): `dir` and `lang` from the language, no horizontal scroll, touch targets of
at least 44 px, axe-core with no violations, and a screenshot kept under
var/artifacts/screenshots/wallet-<journey>-<step>-<lang>-<width>.png."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth import get_user_model

from kyc import services as kyc
from ledger.models import Account
from remittance.models import Customer
from tests.remittance.conftest import fund
from wallet import services
from wallet.models import WalletProfile

from .conftest import SHOTS, axe_violations, shot

COMBOS = [("en", 1280), ("en", 390), ("ur", 1280), ("ur", 390)]
COMBO_IDS = [f"{lang}-{width}" for lang, width in COMBOS]
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PASSWORD = "x7!Ghosts-pw"

# Elements a finger must hit: controls and navigation, not links inside running text (WCAG
# 2.5.8 exempts inline targets). A radio or checkbox counts by its label.
_SMALL_TARGETS = """() => {
  const out = [];
  const seen = new Set();
  for (const el of document.querySelectorAll(
      'button, input:not([type=hidden]), select, textarea, nav a, .actions a, a.btn, .langs button')) {
    let target = el;
    if (el.matches('input[type=radio], input[type=checkbox]')) { target = el.closest('label') || el; }
    if (seen.has(target)) continue;
    seen.add(target);
    const box = target.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.height < 44 || box.width < 44) {
      out.push(`${target.tagName.toLowerCase()}${target.id ? '#' + target.id : ''} ${Math.round(box.width)}x${Math.round(box.height)} "${(target.textContent || target.value || '').trim().slice(0, 30)}"`);
    }
  }
  return out;
}"""


def page_check(page: Any, *, journey: str, step: str, lang: str, width: int) -> None:
    page.wait_for_load_state("load")
    html = page.locator("html")
    assert html.get_attribute("dir") == ("rtl" if lang == "ur" else "ltr"), step
    assert html.get_attribute("lang") == lang, step
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{step}: horizontal scroll ({scroll} px wide at {width})"
    small = page.evaluate(_SMALL_TARGETS)
    assert small == [], f"{step}: touch targets under 44 px: {small}"
    assert page.locator("a[href^='/admin'], a[href^='/api']").count() == 0, step
    name = f"wallet-{journey}-{step}-{lang}-{width}"
    violations = axe_violations(page)
    assert violations == [], f"{step}: {violations}"
    shot(page, name)
    _record(name, page.url)


def _record(name: str, url: str) -> None:
    """The pages axe checked, for the record (var/artifacts/axe-wallet-pages.jsonl)."""
    path = SHOTS.parent / "axe-wallet-pages.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as out:
        out.write(
            json.dumps({"page": name, "path": url.split("//", 1)[-1].split("/", 1)[-1]}) + "\n"
        )


def verified_customer(
    corridor: Any, *, username: str, language: str = "", minor: int = 200_000
) -> Customer:
    """A wallet customer as if signed up and verified by compliance, with money in the wallet."""
    from tests.remittance.conftest import verified_sender

    customer = services.customer_sign_up(
        username=username, channel=WalletProfile.Channel.EMAIL, password=PASSWORD, language=language
    )
    WalletProfile.objects.filter(user=customer.user).update(contact_verified_at=customer.created_at)
    record = verified_sender(customer.institution)
    kyc.kyc_record_status_set(
        record=record, status="verified", reason="ok", actor="staff:t", tier=1
    )
    customer.kyc_ref = record.kyc_ref
    customer.save(update_fields=["kyc_ref"])
    fund(Account.objects.get(pk=customer.wallet_id), minor)
    return customer


def log_in(page: Any, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{base}/wallet/**")


def user(username: str) -> Any:
    return get_user_model().objects.get(username=username)
