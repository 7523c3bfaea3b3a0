"""The `compliance` group with exactly what compliance staff need (docs/compliance.md):
view KYC records, documents, grants, order links, the access log, status history, screening
lists, imports and hits; decrypt a record (audited); change status/tier with a reason; erase;
decide screening hits. No add/change/delete on any KYC table: every write goes through a
service behind one of the custom permissions."""

from django.db import migrations

PERMISSIONS = [
    "view_kycrecord",
    "decrypt_kycrecord",
    "review_kycrecord",
    "erase_kycrecord",
    "view_kycdocument",
    "view_kycgrant",
    "view_kycorderlink",
    "view_kycaccesslog",
    "view_kycstatuschange",
    "view_screeningimport",
    "view_screeningentry",
    "view_screeninghit",
    "decide_screeninghit",
]


def forwards(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("kyc")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name="compliance")
    permissions = list(
        Permission.objects.filter(content_type__app_label="kyc", codename__in=PERMISSIONS)
    )
    missing = set(PERMISSIONS) - {p.codename for p in permissions}
    if missing:
        raise RuntimeError(f"permissions not found: {sorted(missing)}")
    # add, not set: other apps (orders: held-order review) grant this group their own permissions.
    group.permissions.add(*permissions)


def backwards(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="compliance").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("kyc", "0002_append_only_triggers"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forwards, backwards)]
