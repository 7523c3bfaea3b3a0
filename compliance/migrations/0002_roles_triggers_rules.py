"""The console's roles as groups (compliance/roles.py), append-only triggers on the audit
trail, case notes and rule versions, and the standard typologies and rules — every rule
created disabled: back-test it, then enable it (docs/compliance.md)."""

from django.db import migrations

from ledger import append_only

TABLES = ["compliance_auditevent", "compliance_casenote", "compliance_ruleversion"]

TYPOLOGIES = [
    # code, name, review, interdict
    ("velocity", "Velocity", 50, 100),
    ("structuring", "Structuring", 50, 100),
    ("mule", "Money mule / funnel account", 50, 100),
    ("profile", "Out of profile", 50, 100),
    ("sanctions", "Sanctions / PEP", 50, 100),
]

RULES = [
    # code, kind, typology, params, score, description
    ("sender-count-hour", "velocity_count", "velocity",
     {"party": "sender", "window": "hour", "max_count": 5}, 50,
     "More than 5 transfers by one sender within an hour."),
    ("sender-count-day", "velocity_count", "velocity",
     {"party": "sender", "window": "day", "max_count": 10}, 50,
     "More than 10 transfers by one sender within a day."),
    ("sender-count-30d", "velocity_count", "velocity",
     {"party": "sender", "window": "30d", "max_count": 60}, 30,
     "More than 60 transfers by one sender within 30 days."),
    ("sender-amount-day", "velocity_amount", "velocity",
     {"party": "sender", "window": "day", "max_amount": "10000.00", "currency": "MYR"}, 60,
     "More than RM 10,000.00 sent by one sender within a day."),
    ("sender-amount-30d", "velocity_amount", "velocity",
     {"party": "sender", "window": "30d", "max_amount": "50000.00", "currency": "MYR"}, 50,
     "More than RM 50,000.00 sent by one sender within 30 days."),
    ("beneficiary-count-day", "velocity_count", "velocity",
     {"party": "beneficiary", "window": "day", "max_count": 10}, 50,
     "More than 10 transfers to one beneficiary within a day."),
    ("beneficiary-amount-day", "velocity_amount", "velocity",
     {"party": "beneficiary", "window": "day", "max_amount": "15000.00", "currency": "MYR"}, 50,
     "More than RM 15,000.00 to one beneficiary within a day."),
    ("structuring-3000-day", "structuring", "structuring",
     {"threshold": "3000.00", "currency": "MYR", "band_percent": 10, "window": "day",
      "min_count": 2}, 60,
     "Two or more transfers within 10% under RM 3,000.00 (the travel-rule threshold) in a day."),
    ("structuring-3000-30d", "structuring", "structuring",
     {"threshold": "3000.00", "currency": "MYR", "band_percent": 10, "window": "30d",
      "min_count": 4}, 50,
     "Four or more transfers within 10% under RM 3,000.00 in 30 days."),
    ("round-1000", "round_amount", "profile",
     {"unit": "1000.00", "min_amount": "3000.00", "currency": "MYR"}, 20,
     "A round amount (a multiple of RM 1,000.00) of RM 3,000.00 or more."),
    ("new-recipient-large", "new_recipient_large", "mule",
     {"min_amount": "5000.00", "currency": "MYR"}, 50,
     "A first transfer of RM 5,000.00 or more to a recipient never paid before."),
    ("fan-in-day", "fan_in", "mule", {"window": "day", "min_senders": 5}, 60,
     "Five or more senders paying one beneficiary within a day."),
    ("fan-in-30d", "fan_in", "mule", {"window": "30d", "min_senders": 10}, 50,
     "Ten or more senders paying one beneficiary within 30 days."),
    ("fan-out-day", "fan_out", "mule", {"window": "day", "min_beneficiaries": 5}, 60,
     "One sender paying five or more beneficiaries within a day."),
    ("fan-out-30d", "fan_out", "mule", {"window": "30d", "min_beneficiaries": 10}, 50,
     "One sender paying ten or more beneficiaries within 30 days."),
    ("history-outlier-5x", "history_outlier", "profile", {"factor": "5", "min_history": 3}, 50,
     "An amount more than 5 times the sender's 30-day average (at least 3 earlier transfers)."),
    ("history-outlier-10x", "history_outlier", "profile", {"factor": "10", "min_history": 3}, 60,
     "An amount more than 10 times the sender's 30-day average."),
    ("near-miss", "near_miss", "sanctions", {}, 50,
     "A party's name is close to a listed name (a screening hit cleared as false positive)."),
    ("sender-count-hour-strict", "velocity_count", "velocity",
     {"party": "sender", "window": "hour", "max_count": 10}, 100,
     "More than 10 transfers by one sender within an hour: held."),
    ("beneficiary-count-hour", "velocity_count", "velocity",
     {"party": "beneficiary", "window": "hour", "max_count": 5}, 40,
     "More than 5 transfers to one beneficiary within an hour."),
]


def forwards(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from compliance.roles import ROLES, role_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    rows = list(Permission.objects.values_list("pk", "content_type__app_label", "codename"))
    by_name = {(app, code): pk for pk, app, code in rows}
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        wanted = role_permissions(role, list(by_name))
        group.permissions.set([by_name[p] for p in wanted])

    append_only.install(schema_editor, TABLES)

    Typology = apps.get_model("compliance", "Typology")
    Rule = apps.get_model("compliance", "Rule")
    RuleVersion = apps.get_model("compliance", "RuleVersion")
    typologies = {}
    for code, name, review, interdict in TYPOLOGIES:
        typologies[code], _ = Typology.objects.get_or_create(
            code=code,
            defaults={"name": name, "review_score": review, "interdict_score": interdict},
        )
    for code, kind, typology, params, score, description in RULES:
        rule, created = Rule.objects.get_or_create(
            code=code,
            defaults={
                "kind": kind,
                "typology": typologies[typology],
                "params": params,
                "score": score,
                "description": description,
                "enabled": False,
            },
        )
        if created:
            RuleVersion.objects.create(
                rule=rule,
                version=1,
                kind=kind,
                typology=typology,
                params=params,
                score=score,
                description=description,
                enabled=False,
                saved_by="migration",
            )


def backwards(apps, schema_editor):
    from compliance.roles import ROLES

    append_only.uninstall(schema_editor, TABLES)
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("compliance", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("institutions", "0005_webhooks_move_out"),
        ("webhooks", "0001_initial"),
        ("ledger", "0004_witnesses"),
        ("kyc", "0004_access_log_denied_retention"),
        ("settlement", "0002_windows_liquidity_reconciliation"),
        ("remittance", "0005_order_transition_guard"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
