"""Least privilege, role by role: what each role sees and may do on every admin page of
the console (compliance/roles.py). The matrix is written out by hand here — the test fails if
a role gains or loses a page — and saved to var/artifacts/role_matrix.txt for the record."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db

ROLES = ["operator", "compliance_officer", "mlro", "auditor", "partner_support"]
# page: the role's access, in ROLES order — "-" forbidden, "v" view only, "c" view and change
MATRIX: dict[str, str] = {
    "remittance/remittanceorder": "vvvvv",
    "remittance/quote": "v--v-",
    "remittance/corridorpricing": "v--v-",
    "remittance/customer": "---v-",
    "kyc/kycrecord": "-vvv-",
    "kyc/kycaccesslog": "-vvv-",
    "kyc/kycstatuschange": "-vvv-",
    "kyc/screeninghit": "-vvv-",
    "kyc/screeningimport": "-vvv-",
    "settlement/settlementwindow": "v--v-",
    "settlement/liquiditylimit": "c--v-",
    "settlement/break": "v--v-",
    "settlement/fxrate": "v--v-",
    "webhooks/webhookendpoint": "v--vv",
    "webhooks/webhookdelivery": "v--vv",
    "ledger/entry": "v--v-",
    "ledger/checkpoint": "v--v-",
    "ledger/witness": "v--v-",
    "institutions/institution": "v--vv",
    "institutions/apicredential": "---v-",
    "compliance/proposal": "vvvv-",
    "compliance/alert": "-vvv-",
    "compliance/case": "-vvv-",
    "compliance/rule": "-vcv-",
    "compliance/typology": "-vcv-",
    "compliance/ruleversion": "--vv-",
    "compliance/rescreenrun": "-vvv-",
    "compliance/auditevent": "--vv-",
    "auth/user": "---v-",
}
# what each role may do, beyond seeing pages
ABILITIES: dict[str, str] = {
    "compliance.propose_order_decision": "-vv--",
    "compliance.approve_order_decision": "--v--",
    "compliance.propose_settlement": "v----",
    "compliance.approve_settlement": "v----",
    "compliance.propose_kyc_decision": "-vv--",
    "compliance.approve_kyc_decision": "--v--",
    "compliance.propose_sanctions_list": "-vv--",
    "compliance.approve_sanctions_list": "--v--",
    "compliance.triage_alert": "-vv--",
    "compliance.work_case": "-vv--",
    "compliance.file_report": "--v--",
    "kyc.decrypt_kycrecord": "-vv--",
    "kyc.erase_kycrecord": "--v--",
    "settlement.change_settlementwindow": "v----",
}


def _access(client, page: str, obj_url: str | None) -> str:
    listing = client.get(f"/admin/{page}/")
    if listing.status_code == 403:
        assert listing["Content-Type"].startswith("text/html")  # the admin's page, not JSON
        assert b"Permission denied" in listing.content
        return "-"
    assert listing.status_code == 200, (page, listing.status_code)
    if obj_url is None:
        return "v"
    detail = client.get(obj_url)
    assert detail.status_code == 200, (obj_url, detail.status_code)
    return "c" if b'name="_save"' in detail.content else "v"


def test_each_role_sees_and_does_exactly_its_part(staff, held_order):
    from django.contrib.auth import get_user_model

    from compliance.models import Rule, Typology
    from settlement.models import FxRate, LiquidityLimit

    objects = {
        "remittance/remittanceorder": f"/admin/remittance/remittanceorder/{held_order.pk}/change/",
        "settlement/liquiditylimit": f"/admin/settlement/liquiditylimit/{LiquidityLimit.objects.first().pk}/change/",
        "settlement/fxrate": f"/admin/settlement/fxrate/{FxRate.objects.first().pk}/change/",
        "compliance/rule": f"/admin/compliance/rule/{Rule.objects.first().pk}/change/",
        "compliance/typology": f"/admin/compliance/typology/{Typology.objects.first().pk}/change/",
        "auth/user": f"/admin/auth/user/{get_user_model().objects.first().pk}/change/",
    }
    found: dict[str, str] = {}
    abilities: dict[str, str] = {}
    for n, role in enumerate(ROLES):
        user, client = staff(role)
        index = client.get("/admin/")
        assert index.status_code == 200
        assert b"have permission to view or edit anything" not in index.content
        for page in MATRIX:
            found[page] = found.get(page, "") + _access(client, page, objects.get(page))
        for perm in ABILITIES:
            abilities[perm] = abilities.get(perm, "") + ("v" if user.has_perm(perm) else "-")
        order_page = client.get(f"/admin/remittance/remittanceorder/{held_order.pk}/change/")
        assert b'name="_save"' not in order_page.content  # read-only: no Save button
        listing = client.get("/admin/remittance/remittanceorder/")
        offered = b'value="propose_release"' in listing.content
        assert offered == (ABILITIES["compliance.propose_order_decision"][n] == "v"), role
        assert b'value="release_held"' not in listing.content  # the one-click action is gone
    _write(found, abilities)
    assert found == MATRIX
    assert abilities == ABILITIES


def _write(found: dict[str, str], abilities: dict[str, str]) -> None:
    out = Path(os.environ.get("REMIT_ARTIFACTS", Path(settings.BASE_DIR) / "var" / "artifacts"))
    out.mkdir(parents=True, exist_ok=True)
    width = max(len(p) for p in [*found, *abilities])
    lines = [" " * width + "  " + "  ".join(r[:10].ljust(10) for r in ROLES)]
    for key, row in [*found.items(), *abilities.items()]:
        lines.append(key.ljust(width) + "  " + "  ".join(c.ljust(10) for c in row))
    lines.append("- forbidden (the admin's 403 page)   v view   c view and change")
    (out / "role_matrix.txt").write_text("\n".join(lines) + "\n")


def test_a_forbidden_admin_page_is_the_admins_page_and_the_api_still_answers_json(staff, client):
    _, support = staff("partner_support")
    page = support.get("/admin/kyc/kycrecord/")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")
    assert b"Your role does not include this page" in page.content
    assert b'id="site-name"' in page.content  # the admin's own header
