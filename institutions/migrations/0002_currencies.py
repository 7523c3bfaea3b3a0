from django.db import migrations

from core.money import ISO4217


def seed(apps, schema_editor):
    Currency = apps.get_model("institutions", "Currency")
    for code, (minor, name) in ISO4217.items():
        Currency.objects.update_or_create(code=code, defaults={"name": name, "minor_units": minor})


class Migration(migrations.Migration):
    dependencies = [("institutions", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
