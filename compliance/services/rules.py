"""Saving a monitoring rule: every save is a new version, kept (RuleVersion)."""

from __future__ import annotations

from django.db import transaction

from compliance.models import Rule, RuleVersion
from compliance.services.monitoring import rule_params_clean
from compliance.services.staff import audit_record


@transaction.atomic
def rule_save(*, rule: Rule, actor: str, created: bool) -> Rule:
    """Check the parameters, bump the version (1 for a new rule), keep a copy of it."""
    rule_params_clean(rule.kind, rule.params)
    if created:
        rule.version = 1
    else:
        current = Rule.objects.select_for_update().get(pk=rule.pk)
        rule.version = current.version + 1
    rule.save()
    RuleVersion.objects.create(
        rule=rule,
        version=rule.version,
        kind=rule.kind,
        typology=rule.typology.code,
        params=rule.params,
        score=rule.score,
        description=rule.description,
        enabled=rule.enabled,
        saved_by=actor[:40],
    )
    audit_record(
        actor=actor,
        action="rule.saved",
        object_type="rule",
        object_ref=rule.code,
        detail={"version": rule.version, "enabled": rule.enabled},
    )
    return rule
