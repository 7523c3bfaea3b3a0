"""Name screening against sanctions lists: normalisation, fuzzy matching, list file parsers.

Pure functions and classes (no database); kyc.services persists imports and hits.

Normalisation (docs/compliance.md, "Screening") makes the common romanisations of Arabic and
Urdu names meet before `rapidfuzz` scores them:
- Unicode NFKD, diacritics dropped, case folded, punctuation and hyphens become spaces;
- particles dropped: al-/el-/ul-/ud-…, bin/binti/ibn, s/o, d/o;
- `Abdul…`/`Abdel…`/`Abd al-…` become `abd` + the rest, glued or not;
- a table maps frequent variants to one spelling (Mohammad/Muhammad/Mohamed/Mohd → muhammad,
  Hussain/Hussein/Husain → husayn, Yousuf/Yusuf/Youssef → yusuf, Rehman/Rahman …);
- light phonetic folding: doubled letters collapse, ee→i, oo/ou→u, q→k, ph→f;
- tokens are sorted, so word order does not matter.
Arabic-script names (Arabic and Urdu letters) are normalised separately: harakat and tatweel
dropped, alef/yeh/heh/kaf variants unified, the article ال and بن/ابن dropped.

Score: `rapidfuzz.fuzz.ratio` (normalised Indel similarity, 0–100) between the normalised
forms; a hit is any list name scoring at or above the configured threshold.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from xml.etree import ElementTree as ET

from rapidfuzz import fuzz, process

PARTICLES = frozenset(
    {"al", "el", "ul", "ud", "ad", "ar", "as", "ash", "at", "az", "ed", "bin", "binti", "bint"}
    | {"ibn", "bn", "s/o", "d/o", "so", "do", "a/l", "a/p"}
)
VARIANTS: dict[str, str] = {}
for _canonical, _variants in {
    "muhammad": "mohammad mohammed muhammed mohamed mohamad muhamad muhamed mohd md mhd "
    "mohammod mahomed muhamed mohamud mohammad muhammet",
    "ahmad": "ahmed ahmet achmad ahmat",
    "husayn": "hussain husain hussein husein hossain hosain hussien husayn hussen",
    "hasan": "hassan hasen hassen hasson",
    "yusuf": "yousuf yousef youssef yusef yosef yousaf yusof yousif",
    "umar": "omar omer umer",
    "usman": "osman othman uthman usmaan osmaan",
    "abdallah": "abdullah abdulla abdalla abdollah",
    "rahman": "rehman rahmaan rahmane",
    "rahim": "raheem rehim",
    "karim": "kareem",
    "khalid": "khaled",
    "mahmud": "mahmood mahmoud mehmood",
    "mustafa": "mostafa mustapha moustafa",
    "ibrahim": "ebrahim ibraheem",
    "ismail": "ismael esmail",
    "qadir": "kadir qader kader qadeer",
    "qasim": "kasim qassim kassim qaseem",
    "sayyid": "syed sayed sayyed seyed",
    "zahir": "zaheer zaher",
    "nasir": "naseer nasser",
    "bashir": "basheer bachir",
    "jamil": "jameel",
    "rashid": "rasheed rachid",
    "hamid": "hameed",
    "majid": "majeed",
    "hafiz": "hafeez hafez",
    "aziz": "azeez",
    "tariq": "tarik tareq",
    "faisal": "faysal feisal",
    "iqbal": "ikbal",
    "shaikh": "sheikh shaykh sheik shaik",
    "qureshi": "quraishi qurashi qureishi quraishy qurayshi",
}.items():
    for _variant in _variants.split():
        VARIANTS[_variant] = _canonical
_CANONICAL = frozenset(VARIANTS.values())
ABD_PREFIXES = ("abdul", "abdel", "abdal", "abdur", "abdar", "abdus", "abdun", "abd")

_ARABIC_CHARS = re.compile(r"[\u0600-\u06FF\u0750-\u077F\u08A0-\u08FF\uFB50-\uFDFF\uFE70-\uFEFF]")
_ARABIC_MARKS = re.compile(r"[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640]")
_ARABIC_FOLD = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ة": "ه",
        "ۃ": "ه",
        "ہ": "ه",
        "ھ": "ه",
        "ى": "ي",
        "ی": "ي",
        "ے": "ي",
        "ئ": "ي",
        "ک": "ك",
        "ؤ": "و",
    }
)
_NON_WORD = re.compile(r"[^\w/]+", re.UNICODE)


def _fold_latin_token(token: str) -> str:
    token = VARIANTS.get(token, token)
    token = re.sub(r"(.)\1+", r"\1", token)
    for old, new in (("ee", "i"), ("oo", "u"), ("ou", "u"), ("ph", "f"), ("q", "k")):
        token = token.replace(old, new)
    if len(token) > 3 and token.endswith("h") and token[-2] in "aeiou":
        token = token[:-1]
    return token


def _split_abd(token: str) -> list[str]:
    if token in VARIANTS or token in _CANONICAL:  # abdullah and friends are names of their own
        return [token]
    for prefix in ABD_PREFIXES:
        if token.startswith(prefix) and len(token) > len(prefix) + 2:
            rest = token[len(prefix) :]
            if rest.startswith(("al", "el", "ul", "ur", "ar", "us")) and prefix == "abd":
                rest = rest[2:]
            return ["abd", rest]
        if token == prefix:
            return ["abd"]
    return [token]


def normalise_latin(name: str) -> str:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = text.replace("-", " ").replace("'", "").replace("’", "").replace("ʿ", "")
    tokens: list[str] = []
    for raw in _NON_WORD.sub(" ", text).split():
        if raw in PARTICLES:
            continue
        for part in _split_abd(raw):
            if part in PARTICLES:
                continue
            folded = _fold_latin_token(part)
            if folded:
                tokens.append(folded)
    return " ".join(sorted(tokens))


def normalise_arabic(name: str) -> str:
    text = _ARABIC_MARKS.sub("", unicodedata.normalize("NFKC", name)).translate(_ARABIC_FOLD)
    tokens: list[str] = []
    for raw in _NON_WORD.sub(" ", text).split():
        if raw in ("بن", "ابن", "بنت"):
            continue
        parts = [raw]
        if raw.startswith("عبد") and len(raw) > 3:
            parts = ["عبد", raw[3:]]
        for part in parts:
            if part.startswith("ال") and len(part) > 3:
                part = part[2:]
            tokens.append(part)
    return " ".join(sorted(tokens))


def is_arabic_script(name: str) -> bool:
    return bool(_ARABIC_CHARS.search(name))


def normalise(name: str) -> str:
    return normalise_arabic(name) if is_arabic_script(name) else normalise_latin(name)


# --- matching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    entry_id: int
    score: float
    matched_name: str


class Matcher:
    """All active list names, normalised once; `match` scores a person's names against them."""

    def __init__(self, names: Iterable[tuple[int, str]]) -> None:
        self._keys: list[str] = []
        self._entries: list[tuple[int, str]] = []
        for entry_id, name in names:
            key = normalise(name)
            if len(key) >= 3:
                self._keys.append(key)
                self._entries.append((entry_id, name))

    def __len__(self) -> int:
        return len(self._keys)

    def match(self, names: Iterable[str], *, threshold: float) -> list[Match]:
        best: dict[int, Match] = {}
        for name in names:
            query = normalise(name)
            if len(query) < 3:
                continue
            for _, score, index in process.extract(
                query, self._keys, scorer=fuzz.ratio, score_cutoff=threshold, limit=25
            ):
                entry_id, listed = self._entries[index]
                if entry_id not in best or best[entry_id].score < score:
                    best[entry_id] = Match(entry_id, round(float(score), 2), listed)
        return sorted(best.values(), key=lambda m: (-m.score, m.entry_id))


def person_names(data: dict) -> list[str]:
    """The names of a KYC record screening looks at: Latin full name and original script."""
    name = data.get("name", {})
    names = [" ".join(p for p in (name.get("given"), name.get("family")) if p)]
    if name.get("original_script"):
        names.append(name["original_script"])
    return [n for n in names if n]


# --- list files -----------------------------------------------------------------------------


@dataclass
class ListedParty:
    reference: str
    kind: str
    name: str
    aliases: list[str] = field(default_factory=list)
    original_script_names: list[str] = field(default_factory=list)
    programs: str = ""
    details: dict[str, str] = field(default_factory=dict)


class ListFormatError(ValueError):
    pass


def _text(element: ET.Element | None, tag: str) -> str:
    found = element.find(tag) if element is not None else None
    return " ".join((found.text or "").split()) if found is not None and found.text else ""


def parse_un_xml(content: bytes) -> Iterator[ListedParty]:
    """UN Security Council Consolidated List XML (CONSOLIDATED_LIST/INDIVIDUALS/INDIVIDUAL,
    ENTITIES/ENTITY). The file comes from the UN's own site over TLS; DTDs and external
    entities are refused outright so a doctored file cannot expand or fetch anything."""
    if b"<!DOCTYPE" in content[:2048] or b"<!ENTITY" in content:
        raise ListFormatError("DTDs and entity declarations are not accepted")
    try:
        root = ET.fromstring(content)  # noqa: S314 - no DTD/entities (checked above)
    except ET.ParseError as exc:
        raise ListFormatError(f"not well-formed XML: {exc}") from None
    if root.tag != "CONSOLIDATED_LIST":
        raise ListFormatError("root element must be CONSOLIDATED_LIST")
    for kind, path, alias_tag in (
        ("individual", "INDIVIDUALS/INDIVIDUAL", "INDIVIDUAL_ALIAS"),
        ("entity", "ENTITIES/ENTITY", "ENTITY_ALIAS"),
    ):
        for item in root.iterfind(path):
            name = " ".join(
                part
                for tag in ("FIRST_NAME", "SECOND_NAME", "THIRD_NAME", "FOURTH_NAME")
                if (part := _text(item, tag))
            )
            reference = _text(item, "REFERENCE_NUMBER") or _text(item, "DATAID")
            if not name or not reference:
                raise ListFormatError(f"{kind} without a name or reference number")
            # "Low" quality aliases are too broad to screen on (the UN's own caveat).
            aliases = [
                alias
                for a in item.iterfind(alias_tag)
                if (alias := _text(a, "ALIAS_NAME"))
                and alias != name
                and _text(a, "QUALITY").lower() != "low"
            ]
            script = _text(item, "NAME_ORIGINAL_SCRIPT")
            dob = [
                _text(d, "DATE") or _text(d, "YEAR")
                for d in item.iterfind(f"{kind.upper()}_DATE_OF_BIRTH")
            ]
            yield ListedParty(
                reference=reference,
                kind=kind,
                name=name,
                aliases=aliases,
                original_script_names=[script] if script else [],
                programs=_text(item, "UN_LIST_TYPE"),
                details={
                    k: v
                    for k, v in {
                        "listed_on": _text(item, "LISTED_ON"),
                        "nationality": _text(item.find("NATIONALITY"), "VALUE"),
                        "date_of_birth": ", ".join(d for d in dob if d),
                    }.items()
                    if v
                },
            )


_OFAC_NULL = "-0-"
_AKA = re.compile(r"a\.k\.a\.,?\s*'([^']+)'", re.IGNORECASE)


def _ofac_field(value: str) -> str:
    value = " ".join(value.split())
    return "" if value == _OFAC_NULL else value


def _ofac_name(value: str) -> str:
    # "QURESHI, Muhammad Abdul" → "Muhammad Abdul QURESHI"
    last, sep, first = value.partition(", ")
    return f"{first} {last}" if sep else value


def parse_ofac_csv(content: bytes, alt_content: bytes | None = None) -> Iterator[ListedParty]:
    """OFAC SDN list in its legacy CSV form: `sdn.csv` (no header; ent_num, SDN_Name, SDN_Type,
    Program, Title, Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks; `-0-`
    is null) and optionally `alt.csv` (ent_num, alt_num, alt_type, alt_name, alt_remarks).
    Vessels and aircraft are skipped: they are not people or customers."""
    aliases: dict[str, list[str]] = {}
    if alt_content is not None:
        for row in csv.reader(io.StringIO(alt_content.decode("utf-8-sig", errors="replace"))):
            if len(row) >= 4 and _ofac_field(row[3]):
                aliases.setdefault(row[0].strip(), []).append(_ofac_name(_ofac_field(row[3])))
    rows = csv.reader(io.StringIO(content.decode("utf-8-sig", errors="replace")))
    for line, row in enumerate(rows, start=1):
        if not row or (len(row) == 1 and row[0].strip() in ("", "\x1a")):
            continue
        if len(row) < 12:
            raise ListFormatError(f"line {line}: expected 12 SDN columns, got {len(row)}")
        ent_num, sdn_name, sdn_type = row[0].strip(), _ofac_field(row[1]), _ofac_field(row[2])
        if not ent_num.isdigit() or not sdn_name:
            raise ListFormatError(f"line {line}: ent_num and SDN_Name are required")
        kind = sdn_type.lower() or "entity"
        if kind in ("vessel", "aircraft"):
            continue
        remarks = _ofac_field(row[11])
        yield ListedParty(
            reference=ent_num,
            kind=kind,
            name=_ofac_name(sdn_name),
            aliases=aliases.get(ent_num, []) + [_ofac_name(a) for a in _AKA.findall(remarks)],
            programs=_ofac_field(row[3]),
            details={"remarks": remarks} if remarks else {},
        )


PARSERS = {"un-xml": ("un", parse_un_xml), "ofac-csv": ("ofac", parse_ofac_csv)}
