"""The console's roles, least privilege (docs/compliance.md, "Roles"). Each role is a Django
group; migration 0002 creates them from this table, and tests/compliance/test_roles.py checks
each role against every admin page.

A permission is written `app_label.codename`; `app_label.view_*` means every view permission
of that app (its models at the time the migration runs)."""

from __future__ import annotations

OPERATOR = "operator"
OFFICER = "compliance_officer"
MLRO = "mlro"
AUDITOR = "auditor"
SUPPORT = "partner_support"

ROLES: dict[str, list[str]] = {
    # hub operations: orders (view), settlement, liquidity, reconciliation, webhooks, ledger
    OPERATOR: [
        "remittance.view_remittanceorder",
        "remittance.view_orderstatuschange",
        "remittance.view_quote",
        "remittance.view_corridorpricing",
        "settlement.view_*",
        "settlement.change_settlementwindow",
        "settlement.change_liquiditylimit",
        "settlement.change_break",
        "webhooks.view_*",
        "webhooks.change_webhookdelivery",
        "ledger.view_*",
        "institutions.view_institution",
        "institutions.view_corridor",
        "compliance.view_proposal",
        "compliance.propose_settlement",
        "compliance.approve_settlement",
    ],
    # KYC review (no erasure), held orders, alerts, cases — proposes, never approves
    OFFICER: [
        "kyc.view_*",
        "kyc.decrypt_kycrecord",
        "kyc.review_kycrecord",
        "kyc.decide_screeninghit",
        "remittance.view_remittanceorder",
        "remittance.view_orderstatuschange",
        "compliance.view_proposal",
        "compliance.propose_order_decision",
        "compliance.propose_kyc_decision",
        "compliance.propose_sanctions_list",
        "compliance.view_alert",
        "compliance.triage_alert",
        "compliance.view_case",
        "compliance.work_case",
        "compliance.view_casenote",
        "compliance.view_caseevidence",
        "compliance.view_rule",
        "compliance.view_typology",
        "compliance.view_rescreenrun",
    ],
    # the money-laundering reporting officer: approves what officers propose, owns the rules,
    # files reports
    MLRO: [
        "kyc.view_*",
        "kyc.decrypt_kycrecord",
        "kyc.review_kycrecord",
        "kyc.decide_screeninghit",
        "kyc.erase_kycrecord",
        "remittance.view_remittanceorder",
        "remittance.view_orderstatuschange",
        "compliance.view_proposal",
        "compliance.propose_order_decision",
        "compliance.approve_order_decision",
        "compliance.propose_kyc_decision",
        "compliance.approve_kyc_decision",
        "compliance.propose_sanctions_list",
        "compliance.approve_sanctions_list",
        "compliance.view_alert",
        "compliance.triage_alert",
        "compliance.view_case",
        "compliance.work_case",
        "compliance.file_report",
        "compliance.view_casenote",
        "compliance.view_caseevidence",
        "compliance.view_rule",
        "compliance.add_rule",
        "compliance.change_rule",
        "compliance.view_ruleversion",
        "compliance.view_typology",
        "compliance.change_typology",
        "compliance.view_rescreenrun",
        "compliance.view_auditevent",
    ],
    # read-only everything, the access and audit logs included; no decrypting
    AUDITOR: [
        "institutions.view_*",
        "webhooks.view_*",
        "ledger.view_*",
        "kyc.view_*",
        "settlement.view_*",
        "remittance.view_*",
        "compliance.view_*",
        "admin.view_logentry",
        "auth.view_user",
        "auth.view_group",
    ],
    # partner support: orders and webhooks, read-only; nothing of KYC
    SUPPORT: [
        "remittance.view_remittanceorder",
        "remittance.view_orderstatuschange",
        "webhooks.view_*",
        "institutions.view_institution",
    ],
}


def role_permissions(role: str, available: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """The (app_label, codename) pairs a role holds, out of the `available` ones."""
    chosen: set[tuple[str, str]] = set()
    for spec in ROLES[role]:
        app, codename = spec.split(".", 1)
        if codename.endswith("*"):
            prefix = codename[:-1]
            chosen |= {(a, c) for a, c in available if a == app and c.startswith(prefix)}
        elif (app, codename) in available:
            chosen.add((app, codename))
        else:
            raise LookupError(f"role {role}: no permission {spec}")
    return chosen


def roles_sync() -> None:
    """Create or update the groups from ROLES with the permissions that exist now (the
    migration does this once; transactional tests flush the groups and call it again)."""
    from django.contrib.auth.models import Group, Permission

    rows = list(Permission.objects.values_list("pk", "content_type__app_label", "codename"))
    by_name = {(app, code): pk for pk, app, code in rows}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([by_name[p] for p in role_permissions(role, list(by_name))])
