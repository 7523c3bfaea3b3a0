from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kyc import services
from kyc.errors import HitAlreadyDecided, IllegalStatusChange, KycValidationError
from kyc.models import KycRecord, KycStatusChange, ScreeningEntry, ScreeningHit
from kyc.screening import normalise

from .conftest import SAMPLES


def _beneficiary(network, given, family="", script=""):
    name = {"given": given, "family": family, "original_script": script}
    return services.kyc_record_create(
        owner=network.valyou.institution,
        role="beneficiary",
        data={"name": {k: v for k, v in name.items() if v}},
    )


def _hit_refs(record):
    return sorted(
        ScreeningHit.objects.filter(record=record).values_list("entry__reference", flat=True)
    )


@pytest.mark.parametrize(
    ("given", "family", "script", "reference"),
    [
        # UN XXi.001 MUHAMMAD ABDUL REHMAN QURESHI / محمد عبد الرحمن قريشي
        ("Mohd Abdul Rahman", "Qureshi", "", "XXi.001"),
        ("Mohamed Abdel-Rahman", "el-Qurashi", "", "XXi.001"),
        ("Qureshi", "Muhammad Abdulrehman", "", "XXi.001"),  # word order
        ("Muhamad Abdul Rehmaan", "Qureshy", "", "XXi.001"),  # spelling left to rapidfuzz
        ("Muḥammad ʿAbd al-Raḥmān", "Qurayshī", "", "XXi.001"),  # diacritics, transliteration
        ("Tan", "Wei Ming", "مُحَمَّد عبدالرحمن قریشی", "XXi.001"),  # original script (Urdu ی)
        # UN XXi.002 YOUSUF HUSSAIN AL-NAQVI
        ("Yusuf Husain", "Naqvi", "", "XXi.002"),
        ("Youssef", "Hussein el-Naqvi", "", "XXi.002"),
        # OFAC 9000001 QADIR, Syed Mustafa (a.k.a. in remarks) and 9000002 via alt.csv
        ("Sayyid Mostafa", "Kadir", "", "9000001"),
        ("Tarik", "Mehmood Rashid", "", "9000002"),
    ],
)
@pytest.mark.django_db
def test_romanisation_variants_of_listed_names_are_caught(
    network, sample_lists, given, family, script, reference
):
    record = _beneficiary(network, given, family, script)
    assert reference in _hit_refs(record)
    assert KycRecord.objects.get(pk=record.pk).screening_hold


@pytest.mark.parametrize(
    ("given", "family"),
    [
        ("Tan", "Wei Ming"),
        ("Muhammad Ali", "Khan"),  # shares a common first name with a listed person
        ("Siti Aminah", "binti Ismail"),
        ("Ahmad Faisal", "Chaudhry"),
    ],
)
@pytest.mark.django_db
def test_plain_non_matches_are_not_flagged(network, sample_lists, given, family):
    record = _beneficiary(network, given, family)
    assert _hit_refs(record) == []
    assert not KycRecord.objects.get(pk=record.pk).screening_hold


def test_normalisation_meets_the_common_variants():
    same = [
        "Mohammad Abdullah",
        "Muhammad Abdallah",
        "MOHAMED ABDULLA",
        "Mohd. Abdullah",
        "Abdullah Muhammad",
    ]
    assert len({normalise(n) for n in same}) == 1
    assert normalise("Hussain al-Naqvi") == normalise("Husayn El Naqvi")
    assert normalise("حُسَيْن") == normalise("حسين")
    assert normalise("Tan Wei Ming") != normalise("Muhammad Tan")


@pytest.mark.django_db
def test_hit_holds_the_record_until_compliance_decides(network, sample_lists):
    record = _beneficiary(network, "Mohammed Abdulrahman", "Qurayshi")
    hit = ScreeningHit.objects.get(record=record)
    assert hit.status == "open" and hit.score >= 88 and hit.context == "record_create"
    assert hit.matched_entry_name  # shown to staff
    with pytest.raises(IllegalStatusChange, match="screening"):
        services.kyc_record_status_set(record=record, status="verified", reason="ok", actor="s:a")
    with pytest.raises(KycValidationError):
        services.screening_hit_decide(hit=hit, decision="cleared", reason=" ", actor="s:a")
    services.screening_hit_decide(
        hit=hit,
        decision="cleared",
        reason="DOB 1990 vs listed 1968; different person",
        actor="staff:amina",
    )
    record.refresh_from_db()
    assert not record.screening_hold
    audit = KycStatusChange.objects.get(record=record)
    assert audit.actor == "staff:amina" and "cleared: DOB 1990" in audit.reason
    with pytest.raises(HitAlreadyDecided):
        services.screening_hit_decide(hit=hit, decision="confirmed", reason="x", actor="s:a")
    # A cleared hit stands: screening the order's parties again does not hold it.
    result = services.screening_check_parties(kyc_refs=[record.kyc_ref])
    assert result == services.ScreeningResult(hold=False, hits=[])
    services.kyc_record_status_set(record=record, status="verified", reason="ok", actor="s:a")


@pytest.mark.django_db
def test_confirmed_hit_rejects_the_record_and_holds_its_orders(network, sample_lists, beneficiary):
    record = _beneficiary(network, "Sayed Mustafa", "Qadir")
    hit = ScreeningHit.objects.get(record=record)
    services.screening_hit_decide(
        hit=hit, decision="confirmed", reason="passport matches listing", actor="staff:amina"
    )
    record.refresh_from_db()
    assert record.status == "rejected"
    result = services.screening_check_parties(kyc_refs=[beneficiary.kyc_ref, record.kyc_ref])
    assert result.hold and [h.pk for h in result.hits] == [hit.pk]


@pytest.mark.django_db
def test_order_screening_catches_a_name_listed_after_onboarding(network, beneficiary, sender):
    assert services.screening_check_parties(kyc_refs=[sender.kyc_ref]).hold is False
    listed = (
        (SAMPLES / "un_consolidated.xml")
        .read_text()
        .replace("IVAN</FIRST_NAME>", "RUKHSANA BIBI</FIRST_NAME>")
        .replace("PETROVICH</SECOND_NAME>", "CHAUDHRY</SECOND_NAME>")
        .replace("<THIRD_NAME>TESTOV</THIRD_NAME>", "")
    )
    services.screening_list_import(fmt="un-xml", content=listed.encode(), actor="test")
    result = services.screening_check_parties(kyc_refs=[sender.kyc_ref, beneficiary.kyc_ref])
    assert result.hold
    assert [(h.record_id, h.entry.reference, h.context) for h in result.hits] == [
        (beneficiary.pk, "XXi.005", "order")
    ]


@pytest.mark.django_db
def test_import_command_replaces_a_sources_entries(db):
    out = io.StringIO()
    call_command(
        "screening",
        "import",
        "--format",
        "un-xml",
        str(SAMPLES / "un_consolidated.xml"),
        stdout=out,
    )
    assert "imported 6 UN Security Council" in out.getvalue()
    call_command(
        "screening",
        "import",
        "--format",
        "ofac-csv",
        str(SAMPLES / "ofac_sdn.csv"),
        "--alt",
        str(SAMPLES / "ofac_alt.csv"),
        stdout=out,
    )
    assert "imported 3 OFAC" in out.getvalue()  # the vessel is skipped
    call_command(
        "screening",
        "import",
        "--format",
        "un-xml",
        str(SAMPLES / "un_consolidated.xml"),
        stdout=out,
    )
    assert ScreeningEntry.objects.filter(active=True).count() == 9
    assert ScreeningEntry.objects.filter(active=False, source="un").count() == 6
    with pytest.raises(CommandError, match="not a valid un-xml file"):
        call_command(
            "screening", "import", "--format", "un-xml", str(SAMPLES / "ofac_sdn.csv"), stdout=out
        )
