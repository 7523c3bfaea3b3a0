from __future__ import annotations

import base64
import io
import json

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from institutions.crypto import Keyring
from kyc import services
from kyc.errors import KycIntegrityError, KycValidationError, RecordErased
from kyc.models import KycAccessLog, KycDocument, KycRecord, KycStatusChange
from ledger.models import Entry
from ledger.services.log import ledger_integrate
from partner_sdk import kyc as sdk

from .conftest import PASSPORT_SCAN, PII_STRINGS, SENDER

NEW_KEK = "k2:" + base64.b64encode(b"n" * 32).decode()


def _reload(record: KycRecord) -> KycRecord:
    return KycRecord.objects.select_related("owner").get(pk=record.pk)


@pytest.mark.django_db
def test_record_round_trips_and_commits_to_its_data(sender):
    assert sender.kyc_ref.startswith("kyc_") and len(sender.kyc_ref) == 30
    assert (sender.status, sender.tier, sender.screening_hold) == ("pending", 1, False)
    read = services.kyc_record_read(record=_reload(sender), actor="staff:amina", purpose="review")
    assert read["data"]["name"]["given"] == "Ahmad Faisal"
    assert read["data"]["id_documents"][1]["number"] == "35202-1234567-1"
    assert read["data"]["phone"] == "+60123456789"
    assert read["documents"][0]["kind"] == "passport_scan"
    meta, content = services.kyc_document_read(
        document=sender.documents.get(), actor="staff:amina", purpose="review"
    )
    assert content == PASSPORT_SCAN.content and meta["filename"] == "passport.png"
    assert set(sender.present_fields) == {
        "account",
        "address",
        "date_of_birth",
        "id_document",
        "name",
        "place_of_birth",
    }


@pytest.mark.django_db
def test_validation_errors_name_the_field_and_the_rule(network, sender_data):
    sender_data["id_documents"][1]["number"] = "95202-1234567-1"
    sender_data["phone"] = "+6012"
    sender_data["favourite_colour"] = "green"
    del sender_data["date_of_birth"]
    sender_data["id_documents"].append(
        {"type": "nric", "number": "901331-14-5673", "issuing_country": "MY"}
    )
    with pytest.raises(KycValidationError) as caught:
        services.kyc_record_create(
            owner=network.valyou.institution, role="sender", data=sender_data
        )
    errors = caught.value.errors
    assert errors["id_documents[1].number"][0].startswith("cnic:")
    assert errors["id_documents[2].number"][0].startswith("nric:")
    assert errors["phone"][0].startswith("phone:")
    assert errors["date_of_birth"] == ["required: this field is required"]
    assert errors["favourite_colour"][0].startswith("unknown_field:")
    assert "95202" not in json.dumps(errors)  # errors never echo the value
    assert not KycRecord.objects.exists()


@pytest.mark.django_db
def test_a_sender_needs_name_address_and_date_of_birth_a_beneficiary_only_a_name(network):
    with pytest.raises(KycValidationError) as caught:
        services.kyc_record_create(
            owner=network.valyou.institution, role="sender", data={"name": {"given": "Ali"}}
        )
    assert {"date_of_birth", "address", "nationality", "id_documents", "phone"} <= set(
        caught.value.errors
    )
    record = services.kyc_record_create(
        owner=network.valyou.institution, role="beneficiary", data={"name": {"given": "Ali"}}
    )
    assert record.present_fields == ["name"]


@pytest.mark.django_db
def test_database_dump_contains_none_of_the_pii(sender, beneficiary):
    services.kyc_record_read(record=_reload(sender), actor="service:test", purpose="test")
    dumped = []
    with connection.cursor() as cursor:
        tables = [t for t in connection.introspection.table_names(cursor) if t.startswith("kyc_")]
        assert {"kyc_kycrecord", "kyc_kycdocument", "kyc_kycaccesslog"} <= set(tables)
        for table in tables:
            cursor.execute(f"SELECT * FROM {table}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        dumped.append(bytes(value).decode("latin-1"))
                    else:
                        dumped.append(str(value))
    out = io.StringIO()
    call_command("dumpdata", "kyc", stdout=out)
    raw_dump = "\n".join(dumped)
    assert "kyc_" in raw_dump and sender.kyc_ref in out.getvalue()
    for pii in PII_STRINGS:
        assert pii not in raw_dump, pii
        assert pii not in out.getvalue(), pii
        # dumpdata base64-encodes binary fields; the ciphertext must not hide PII either
        for blob in (bytes(sender.ciphertext), bytes(sender.documents.get().ciphertext)):
            assert pii.encode() not in blob


@pytest.mark.django_db
def test_tampered_ciphertext_fails_loudly(sender):
    blob = bytearray(bytes(sender.ciphertext))
    blob[20] ^= 1
    KycRecord.objects.filter(pk=sender.pk).update(ciphertext=bytes(blob))
    with pytest.raises(KycIntegrityError, match="failed authentication"):
        services.kyc_record_read(record=_reload(sender), actor="staff:amina", purpose="review")
    assert not KycAccessLog.objects.exists()  # no successful read, no row
    doc = sender.documents.get()
    tampered = bytearray(bytes(doc.ciphertext))
    tampered[-1] ^= 1
    KycDocument.objects.filter(pk=doc.pk).update(ciphertext=bytes(tampered))
    with pytest.raises(KycIntegrityError):
        services.kyc_document_read(
            document=KycDocument.objects.get(pk=doc.pk), actor="staff:amina", purpose="review"
        )


@pytest.mark.django_db
def test_associated_data_binds_ciphertext_to_its_row(network, sender, beneficiary):
    # A clear column bound into the AAD is edited: reading fails.
    KycRecord.objects.filter(pk=sender.pk).update(role="beneficiary")
    with pytest.raises(KycIntegrityError):
        services.kyc_record_read(record=_reload(sender), actor="staff:amina", purpose="review")
    KycRecord.objects.filter(pk=sender.pk).update(role="sender", present_fields=["name"])
    with pytest.raises(KycIntegrityError):
        services.kyc_record_read(record=_reload(sender), actor="staff:amina", purpose="review")
    # A ciphertext and its data key copied onto another record: the kyc_ref binding fails.
    KycRecord.objects.filter(pk=beneficiary.pk).update(
        ciphertext=sender.ciphertext, wrapped_data_key=sender.wrapped_data_key
    )
    with pytest.raises(KycIntegrityError, match="cannot be unwrapped"):
        services.kyc_record_read(record=_reload(beneficiary), actor="staff:amina", purpose="review")


@pytest.mark.django_db
def test_every_read_writes_an_access_log_row(sender, beneficiary):
    services.kyc_record_read(record=_reload(sender), actor="staff:amina", purpose="review")
    services.kyc_record_read(record=_reload(sender), actor="service:order_submit", purpose="x")
    services.screening_check_parties(kyc_refs=[sender.kyc_ref, beneficiary.kyc_ref])
    rows = list(KycAccessLog.objects.order_by("pk").values_list("record_id", "actor", "purpose"))
    assert rows[:2] == [
        (sender.pk, "staff:amina", "review"),
        (sender.pk, "service:order_submit", "x"),
    ]
    assert sorted(rows[2:]) == sorted(
        [
            (sender.pk, "service:screening", "screening"),
            (beneficiary.pk, "service:screening", "screening"),
        ]
    )
    with pytest.raises(Exception, match="purpose"):
        services.kyc_record_read(record=_reload(sender), actor="staff:amina", purpose="")


@pytest.mark.django_db
def test_access_log_and_status_history_cannot_be_edited_or_deleted(network):
    record = services.kyc_record_create(
        owner=network.valyou.institution, role="beneficiary", data={"name": {"given": "Ali"}}
    )
    services.kyc_record_read(record=_reload(record), actor="staff:amina", purpose="review")
    services.kyc_record_status_set(record=record, status="needs_info", reason="x", actor="s:a")
    for model in (KycAccessLog, KycStatusChange):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            model.objects.update(actor="staff:nobody")
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
        assert model.objects.filter(actor__startswith="s").count() == 1


@pytest.mark.django_db
def test_kek_rotation_rewraps_keys_and_keeps_records_readable(settings, sender, beneficiary):
    old = settings.REMIT_KEKS
    before = bytes(_reload(sender).ciphertext)
    settings.REMIT_KEKS = f"{NEW_KEK},{old}"
    assert services.kyc_record_read(record=_reload(sender), actor="s:t", purpose="t")["data"]
    out = io.StringIO()
    call_command("kyc", "rewrap", stdout=out)
    assert "re-wrapped 2 data key(s)" in out.getvalue()
    for record in (sender, beneficiary):
        fresh = _reload(record)
        assert Keyring.kid_of(bytes(fresh.wrapped_data_key)) == "k2"
    assert bytes(_reload(sender).ciphertext) == before  # ciphertext untouched
    settings.REMIT_KEKS = NEW_KEK  # the old KEK is gone for good
    read = services.kyc_record_read(record=_reload(sender), actor="s:t", purpose="t")
    assert read["data"]["name"]["family"] == "Chaudhry"
    assert services.kek_rewrap_all() == 0  # idempotent


@pytest.mark.django_db
def test_erasure_makes_the_record_unreadable_and_the_ledger_still_verifies(
    network, sender, tmb_key
):
    services.kyc_link_parties(
        kyc_ref=sender.kyc_ref,
        order_ref="ord_1",
        institutions=[sender.owner, network.tmb.institution],
    )
    services.kyc_access_request(
        institution=network.tmb.institution,
        kyc_ref=sender.kyc_ref,
        purpose="travel_rule",
        order_ref="ord_1",
    )
    ledger_integrate()
    out = io.StringIO()
    call_command(
        "kyc", "erase", sender.kyc_ref, "--reason", "customer request (PDPA s.10)", stdout=out
    )
    assert "erased" in out.getvalue()
    erased = _reload(sender)
    assert erased.wrapped_data_key is None and erased.erased_at is not None
    assert bytes(erased.ciphertext)  # the ciphertext is still there, and useless
    with pytest.raises(RecordErased):
        services.kyc_record_read(record=erased, actor="staff:amina", purpose="review")
    with pytest.raises(RecordErased):
        services.kyc_access_request(
            institution=network.tmb.institution,
            kyc_ref=sender.kyc_ref,
            purpose="investigation",
            order_ref="ord_1",
        )
    ledger_integrate()
    kinds = list(Entry.objects.filter(subject=sender.kyc_ref).values_list("kind", flat=True))
    assert kinds == ["kyc.shared", "kyc.erased"]
    call_command("ledger", "verify", stdout=io.StringIO())  # raises SystemExit(1) on failure
    change = KycStatusChange.objects.get(record=erased)
    assert change.reason.startswith("erased: customer request")


@pytest.mark.django_db
def test_commitment_is_salted_sha256_over_the_canonical_data(sender):
    # The salt lives inside the ciphertext: a party holding the record can check it.
    from kyc.services.vault import _payload_open

    payload = _payload_open(record=_reload(sender), actor="s:t", purpose="t")
    salt = base64.b64decode(payload["salt"])
    assert sdk.commitment(salt, payload["data"]) == sender.commitment
    assert sdk.commitment(b"\x00" * 32, payload["data"]) != sender.commitment
    assert SENDER["name"]["given"] == payload["data"]["name"]["given"]
