"""KYC benchmark: records encrypted+decrypted per second, and screening checks per second
against a 10,000-entry synthetic list. No database: it measures the crypto and matching work a
request does (the INSERT and access-log row cost what DESIGN.md §8 says a row costs).

    .venv/bin/python bench/bench_kyc.py

Prints the figures and the machine (CPU model, cores, Python). Runs in well under a minute.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django

django.setup()

import base64  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402

from kyc import crypto  # noqa: E402
from kyc.screening import Matcher, person_names  # noqa: E402
from kyc.validation import present_fields, record_data_clean  # noqa: E402
from partner_sdk import kyc as sdk  # noqa: E402

RECORD = {
    "name": {"given": "Ahmad Faisal", "family": "Chaudhry", "original_script": "احمد فیصل چوہدری"},
    "date_of_birth": "1991-07-14",
    "place_of_birth": {"city": "Sialkot", "country": "PK"},
    "nationality": "PK",
    "address": {"line1": "Unit 12-3, Jalan 7", "city": "Kuala Lumpur", "country": "MY"},
    "id_documents": [{"type": "cnic", "number": "35202-1234567-1", "issuing_country": "PK"}],
    "phone": "+60123456789",
    "account": {"type": "wallet", "identifier": "+60123456789"},
}
GIVEN = [
    "Muhammad",
    "Mohammed",
    "Ahmad",
    "Ahmed",
    "Ali",
    "Hassan",
    "Hussain",
    "Yusuf",
    "Umar",
    "Usman",
    "Abdullah",
    "Ibrahim",
    "Ismail",
    "Khalid",
    "Tariq",
    "Faisal",
    "Imran",
    "Bilal",
    "Hamza",
    "Zain",
    "Asad",
    "Kamran",
    "Naveed",
    "Shahid",
    "Waqar",
    "Adnan",
    "Salman",
    "Farhan",
    "Junaid",
    "Rizwan",
    "Aamir",
    "Nadeem",
    "Sajid",
    "Wasim",
    "Arif",
    "Irfan",
    "Javed",
    "Zahid",
    "Rashid",
    "Qasim",
]
FAMILY = [
    "Khan",
    "Qureshi",
    "Siddiqui",
    "Chaudhry",
    "Malik",
    "Butt",
    "Sheikh",
    "Awan",
    "Rana",
    "Mirza",
    "Baig",
    "Abbasi",
    "Naqvi",
    "Zaidi",
    "Rizvi",
    "Hashmi",
    "Gillani",
    "Bukhari",
    "Shah",
    "Syed",
    "Ansari",
    "Farooqi",
    "Usmani",
    "Alvi",
    "Jafri",
    "Kazmi",
    "Niazi",
    "Afridi",
    "Yousafzai",
    "Durrani",
    "Lodhi",
    "Ghauri",
    "Tanoli",
    "Gujjar",
    "Jatt",
    "Arain",
    "Memon",
    "Bhatti",
    "Dogar",
]
ARABIC = [
    "محمد",
    "احمد",
    "علي",
    "حسن",
    "حسين",
    "يوسف",
    "عمر",
    "عثمان",
    "عبدالله",
    "ابراهيم",
    "خالد",
    "طارق",
    "فيصل",
]


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} logical cores, Python {platform.python_version()}"


def rate(fn, *, seconds: float = 3.0) -> float:
    """Median per-second rate over three runs of ~seconds/3 each."""
    rates = []
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            for _ in range(50):
                fn()
            n += 50
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def bench_records() -> tuple[float, float]:
    clean = record_data_clean(role="sender", data=RECORD)

    def envelope_round_trip(data=clean) -> None:
        kyc_ref = crypto.new_ref("kyc")
        key = crypto.new_data_key()
        aad = crypto.record_aad(
            kyc_ref=kyc_ref, owner="VALYOU-MY", role="sender", present_fields=present_fields(data)
        )
        salt = os.urandom(32)
        payload = {"kyc_ref": kyc_ref, "salt": base64.b64encode(salt).decode(), "data": data}
        sdk.commitment(salt, data)
        wrapped = crypto.wrap_data_key(key, kyc_ref=kyc_ref)
        blob = crypto.encrypt(key, crypto.payload_bytes(payload), aad=aad)
        opened = crypto.unwrap_data_key(wrapped, kyc_ref=kyc_ref)
        assert json.loads(crypto.decrypt(opened, blob, aad=aad, what="bench"))["data"] == data

    def with_validation() -> None:
        envelope_round_trip(record_data_clean(role="sender", data=RECORD))

    return rate(envelope_round_trip), rate(with_validation)


def bench_screening(entries: int = 10_000) -> tuple[float, float, int]:
    rng = random.Random(16)
    names = []
    for entry_id in range(entries):
        parts = [*rng.sample(GIVEN, 2), rng.choice(FAMILY)]
        names.append((entry_id, " ".join(parts).upper()))
        if entry_id % 2 == 0:  # every other entry has an alias; one in five a script name
            names.append((entry_id, " ".join([*rng.sample(GIVEN, 1), rng.choice(FAMILY)])))
        if entry_id % 5 == 0:
            names.append((entry_id, " ".join(rng.sample(ARABIC, 3))))
    start = time.perf_counter()
    matcher = Matcher(names)
    build = time.perf_counter() - start
    queries = [
        person_names(
            {"name": {"given": " ".join(rng.sample(GIVEN, 2)), "family": rng.choice(FAMILY)}}
        )
        for _ in range(200)
    ] + [person_names({"name": RECORD["name"]})]
    i = 0

    def check() -> None:
        nonlocal i
        matcher.match(queries[i % len(queries)], threshold=88)
        i += 1

    return rate(check, seconds=6.0), build, len(matcher)


def main() -> None:
    print(f"machine: {machine()}")
    envelope, validated = bench_records()
    print(f"records encrypted+decrypted per second (envelope only): {envelope:,.0f}")
    print(f"records validated+encrypted+decrypted per second:       {validated:,.0f}")
    checks, build, size = bench_screening()
    print(
        f"screening checks per second vs 10,000 entries ({size:,} names): {checks:,.0f} "
        f"(matcher built in {build:.2f} s)"
    )


if __name__ == "__main__":
    main()
