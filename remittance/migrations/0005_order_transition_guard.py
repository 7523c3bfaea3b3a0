"""The order state machine in the database: a trigger refuses an order inserted in any state
but submitted/held, and any status change the transition map does not allow — even by raw
SQL (remittance/services/orders/states.py holds the same map; tests check they agree).

SQLite drops a table's triggers when a migration rebuilds the table: a later migration that
alters remittance_remittanceorder must call `install` again."""

from django.db import migrations

TABLE = "remittance_remittanceorder"
START = ("submitted", "held")
# from → to, as TRANSITIONS in remittance/services/orders/states.py
MOVES = (
    ("held", "submitted"),
    ("held", "rejected"),
    ("submitted", "accepted"),
    ("submitted", "rejected"),
    ("submitted", "expired"),
    ("submitted", "failed"),
    ("accepted", "credited"),
    ("accepted", "rejected"),
    ("accepted", "expired"),
    ("credited", "settled"),
    ("rejected", "refunded"),
    ("expired", "refunded"),
)


def _in(values):
    return ", ".join(f"'{v}'" for v in values)


def install(schema_editor):
    start, moves = _in(START), _in(f"{a}>{b}" for a, b in MOVES)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"""
CREATE OR REPLACE FUNCTION remittance_order_transition_guard() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status NOT IN ({start}) THEN
            RAISE EXCEPTION 'order state machine: an order starts as submitted or held, not %',
                NEW.status USING ERRCODE = 'check_violation';
        END IF;
    ELSIF NEW.status IS DISTINCT FROM OLD.status
          AND (OLD.status || '>' || NEW.status) NOT IN ({moves}) THEN
        RAISE EXCEPTION 'order state machine: % cannot become %', OLD.status, NEW.status
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
""",
            params=None,
        )
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_transition_guard ON {TABLE};")
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_transition_guard BEFORE INSERT OR UPDATE OF status "
            f"ON {TABLE} FOR EACH ROW EXECUTE FUNCTION remittance_order_transition_guard();"
        )
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_start_guard;")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_transition_guard;")
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_start_guard BEFORE INSERT ON {TABLE} "
            f"WHEN NEW.status NOT IN ({start}) BEGIN "
            "SELECT RAISE(ABORT, 'order state machine: an order starts as submitted or held'); END;"
        )
        schema_editor.execute(
            f"CREATE TRIGGER {TABLE}_transition_guard BEFORE UPDATE OF status ON {TABLE} "
            f"WHEN NEW.status <> OLD.status AND (OLD.status || '>' || NEW.status) NOT IN ({moves}) "
            "BEGIN SELECT RAISE(ABORT, 'order state machine: illegal status change'); END;"
        )


def forwards(apps, schema_editor):
    install(schema_editor)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_transition_guard ON {TABLE};")
        schema_editor.execute("DROP FUNCTION IF EXISTS remittance_order_transition_guard();")
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_start_guard;")
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {TABLE}_transition_guard;")


class Migration(migrations.Migration):
    dependencies = [("remittance", "0004_quote_customer")]
    operations = [migrations.RunPython(forwards, backwards)]
