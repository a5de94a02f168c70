"""The group directory as CSV: what the 市民活動センター exports from its spreadsheet.

Columns (a header row is required; order does not matter; extra columns are ignored):

- ``key`` (required): the group's stable id (letters, digits, ``-`` ``_`` ``.``; ≤ 64)
- ``name`` (required): the group's name (≤ 200 characters)
- ``description``: what they do (≤ 2,000 characters)
- ``fields`` (required): activity fields separated by ``|`` or ``、`` — codes (``children``),
  official names or short labels
- ``areas``: 地域 separated likewise — codes (``ofuna``) or names (大船, 大船地域); empty,
  ``citywide`` or 市内全域 means the whole city
- ``contact``: the public contact the group agreed to publish (≤ 300)
- ``welcomes_newcomers``, ``welcomes_young``, ``verified``: ``true``/``false`` (also 1/0,
  はい/いいえ, ○/×); defaults true, false, true

Files may be UTF-8 (with or without BOM) or Shift_JIS/CP932 (what Excel in Japan saves).
Every row is checked before anything is written; an error names its line and column.

A cell that would start a formula is exported with a ``'`` in front (``bot.csv_cells``), and
the import takes that ``'`` off again, so an export imports back unchanged.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import knowledge
from bot.csv_cells import GuardedWriter, restore
from knowledge.fields import FieldIndex
from knowledge.places import CITYWIDE, PlaceIndex
from knowledge.when import TOKYO, today_in_tokyo
from storage.openings import HIGH_SCHOOL_AGE, CallDraft
from storage.samples import SampleCall, SamplePerson, add_sample_calls
from storage.store import GroupRecord, GroupView, ImportSummary, Store

MAX_BYTES = 20 * 1024 * 1024  # the city's whole directory is ~100 KB; 20 MB is a wrong file
MAX_ROWS = 50_000
COLUMNS = (
    "key",
    "name",
    "description",
    "fields",
    "areas",
    "contact",
    "welcomes_newcomers",
    "welcomes_young",
    "verified",
)
REQUIRED = ("key", "name", "fields")
LIMITS = {"key": 64, "name": 200, "description": 2000, "contact": 300}
_KEY = re.compile(r"^[A-Za-z0-9._-]+$")
_SPLIT = re.compile(r"\s*[|｜、,，/／]\s*")
WORDS_FILE = Path(knowledge.__file__).with_name("directory_csv.toml")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class CsvProblem:
    """One problem, located: line 1 is the header."""

    line: int
    column: str
    message: str

    def __str__(self) -> str:
        words = _words()
        where = words["where_column" if self.column else "where_line"]
        located = where.format(line=self.line, column=self.column)
        return str(words["located"]).format(where=located, message=self.message)


@cache
def _words() -> dict[str, Any]:
    with WORDS_FILE.open("rb") as fh:
        return tomllib.load(fh)


def _say(problem: str, **values: object) -> str:
    """A problem's words (``knowledge/directory_csv.toml``), filled in."""
    return str(_words()["problems"][problem]).format(**values)


@dataclass
class ParsedDirectory:
    """The rows that passed, and every problem found (import only when there are none)."""

    records: list[GroupRecord] = field(default_factory=list)
    errors: list[CsvProblem] = field(default_factory=list)
    warnings: list[CsvProblem] = field(default_factory=list)
    encoding: str = "utf-8"


class CsvTooLarge(ValueError):
    """The file is larger than any real directory."""


def decode(data: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (BOM optional) first, then Shift_JIS (CP932)."""
    if len(data) > MAX_BYTES:
        raise CsvTooLarge(_say("too_large", size=f"{len(data):,}", limit=f"{MAX_BYTES:,}"))
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp932"), "shift_jis"
    except UnicodeDecodeError as exc:
        raise ValueError(_say("encoding")) from exc


def parse(data: bytes, fields: FieldIndex, places: PlaceIndex) -> ParsedDirectory:
    """Check every row of a directory CSV; nothing is written here."""
    result = ParsedDirectory()
    try:
        text, result.encoding = decode(data)
    except ValueError as exc:
        result.errors.append(CsvProblem(0, "", str(exc)))
        return result
    if _CONTROL.search(text.replace("\r", "").replace("\t", "")):
        result.errors.append(CsvProblem(0, "", _say("control")))
        return result
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in reader.fieldnames or []]
    except csv.Error as exc:
        result.errors.append(CsvProblem(1, "", _say("unreadable", error=exc)))
        return result
    reader.fieldnames = header
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        result.errors.append(
            CsvProblem(1, "", _say("missing_columns", columns=", ".join(missing)))
        )
        return result
    seen: dict[str, tuple[int, GroupRecord]] = {}
    try:
        for row in reader:
            line = reader.line_num
            if len(seen) >= MAX_ROWS:
                result.errors.append(
                    CsvProblem(line, "", _say("too_many_rows", limit=f"{MAX_ROWS:,}"))
                )
                break
            if None in row:
                result.errors.append(CsvProblem(line, "", _say("extra_cells")))
                continue
            if not any((v or "").strip() for v in row.values()):
                continue  # blank line
            record = _record(row, line, fields, places, result.errors)
            if record is None:
                continue
            if record.key in seen:
                first_line, first = seen[record.key]
                if first == record:
                    result.warnings.append(
                        CsvProblem(line, "key", _say("same_row", first=first_line))
                    )
                else:
                    result.errors.append(
                        CsvProblem(
                            line, "key", _say("duplicate_key", key=record.key, first=first_line)
                        )
                    )
                continue
            seen[record.key] = (line, record)
    except csv.Error as exc:
        result.errors.append(CsvProblem(reader.line_num, "", _say("unreadable", error=exc)))
    result.records = [r for _, r in seen.values()]
    if not result.records and not result.errors:
        result.errors.append(CsvProblem(2, "", _say("no_rows")))
    return result


def _record(
    row: dict[str, str | None],
    line: int,
    fields: FieldIndex,
    places: PlaceIndex,
    errors: list[CsvProblem],
) -> GroupRecord | None:
    before = len(errors)
    value = {k: restore((row.get(k) or "").strip()) for k in COLUMNS}
    for column in REQUIRED:
        if not value[column]:
            errors.append(CsvProblem(line, column, _say("blank")))
    for column, limit in LIMITS.items():
        if len(value[column]) > limit:
            errors.append(
                CsvProblem(line, column, _say("too_long", limit=limit, length=len(value[column])))
            )
    if value["key"] and not _KEY.match(value["key"]):
        errors.append(CsvProblem(line, "key", _say("key_characters")))
    field_codes: list[str] = []
    for name in _split(value["fields"]):
        found = fields.lookup(name)
        if found is None and (sharing := fields.sharing(name)):  # 防災: two fields have it
            names = _say("field_separator").join(_say("field_name", name=f.short) for f in sharing)
            errors.append(
                CsvProblem(line, "fields", _say("ambiguous_field", name=name, fields=names))
            )
        elif found is None:
            errors.append(CsvProblem(line, "fields", _say("unknown_field", name=name)))
        else:
            field_codes.append(found.code)
    area_codes: list[str] = []
    for name in _split(value["areas"]):
        code = places.lookup_area(name)
        if code is None:
            errors.append(CsvProblem(line, "areas", _say("unknown_area", name=name)))
        elif code != CITYWIDE:
            area_codes.append(code)
    flags = {}
    for column, default in (
        ("welcomes_newcomers", True),
        ("welcomes_young", False),
        ("verified", True),
    ):
        flag = _flag(value[column], default)
        if flag is None:
            errors.append(CsvProblem(line, column, _say("not_a_flag", value=value[column])))
        flags[column] = bool(flag)
    if len(errors) > before:
        return None
    return GroupRecord(
        key=value["key"],
        name=value["name"],
        description=value["description"],
        fields=tuple(dict.fromkeys(field_codes)),
        areas=tuple(dict.fromkeys(area_codes)),
        contact=value["contact"],
        **flags,
    )


def _split(text: str) -> list[str]:
    return [part for part in _SPLIT.split(text) if part]


def _flag(text: str, default: bool) -> bool | None:
    if not text:
        return default
    lowered = text.lower()
    if lowered in _words()["flags"]["true"]:
        return True
    if lowered in _words()["flags"]["false"]:
        return False
    return None


def write(groups: Iterable[GroupView], out: io.TextIOBase | io.StringIO) -> int:
    """Write groups in the import format (round-trips through :func:`parse`); a cell that
    would start a formula in a spreadsheet is written as text (``bot.csv_cells``)."""
    return write_rows(
        (
            (g.key, g.name, g.description, "|".join(g.fields), "|".join(g.areas), g.contact,
             g.welcomes_newcomers, g.welcomes_young, g.verified)
            for g in groups
        ),
        out,
    )  # fmt: skip


def write_rows(rows: Iterable[tuple[Any, ...]], out: io.TextIOBase | io.StringIO) -> int:
    """:func:`write` for ``Store.directory_rows()`` tuples (the console's export: no views)."""
    writer = GuardedWriter(out)
    writer.writerow(COLUMNS)
    flag = {True: "true", False: "false"}
    count = 0
    for key, name, description, fields, areas, contact, newcomers, young, verified in rows:
        writer.writerow(
            [key, name, description, fields, areas or CITYWIDE, contact,
             flag[newcomers], flag[young], flag[verified]]
        )  # fmt: skip
        count += 1
    return count


SAMPLE_FILE = "sample_groups.csv"


def import_csv(
    store: Store, data: bytes, fields: FieldIndex, places: PlaceIndex, *, sample: bool = False
) -> tuple[ParsedDirectory, ImportSummary | None]:
    """Parse, and import only when every row is valid (all or nothing)."""
    parsed = parse(data, fields, places)
    if parsed.errors:
        return parsed, None
    return parsed, store.import_groups(parsed.records, sample=sample)


def load_samples_if_empty(store: Store, fields: FieldIndex, places: PlaceIndex) -> int:
    """Fill an empty directory with the clearly marked sample groups (the demo)."""
    if store.count_groups() > 0:
        return 0
    data = (Path(knowledge.__file__).with_name(SAMPLE_FILE)).read_bytes()
    parsed, summary = import_csv(store, data, fields, places, sample=True)
    if parsed.errors:
        raise ValueError("sample directory is invalid: " + "; ".join(map(str, parsed.errors)))
    return summary.created if summary else 0


SAMPLE_CALLS_FILE = "sample_calls.toml"
SAMPLE_MARK = "サンプル"
# Who may join, as the sample file says it: the (high_school_ok, min_age) a call stores for it
# (``storage.openings.audience`` reads them back; intents/recruit.py ``WHO_OPTIONS``).
_SAMPLE_WHO = {
    "anyone": (True, None),
    "junior_high": (True, 12),
    "high_school": (True, HIGH_SCHOOL_AGE),
    "adults": (False, 18),
}


def load_sample_calls(store: Store, now: datetime, fields: FieldIndex, places: PlaceIndex) -> int:
    """Post the demo's calls for the sample groups (``knowledge/sample_calls.toml``), dated
    from ``now``'s day in Kamakura on, with their sample sign-ups; none when a sample group
    has a call already. Returns how many calls were posted."""
    people, calls = read_sample_calls(now, fields, places)
    return add_sample_calls(store, calls, people, now)


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def read_sample_calls(
    now: datetime, fields: FieldIndex, places: PlaceIndex, path: Path | None = None
) -> tuple[list[SamplePerson], list[SampleCall]]:
    """The sample people and calls of ``path`` (the shipped file by default), checked.

    Raises:
        ValueError: a call that is not marked サンプル, is not upcoming, or names an unknown
            field, area or rule of who may join.
    """
    path = path or Path(knowledge.__file__).with_name(SAMPLE_CALLS_FILE)
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    people = [SamplePerson(p["key"], p["name"], p["age_group"]) for p in data.get("person", [])]
    if any(SAMPLE_MARK not in p.name for p in people):
        raise ValueError(f"{path.name}: every sample person's name says {SAMPLE_MARK}")
    today = today_in_tokyo(now)
    calls = []
    for raw in data.get("call", []):
        title = str(raw["title"])
        if SAMPLE_MARK not in title:
            raise ValueError(f"{path.name}: {title!r} is not marked {SAMPLE_MARK}")
        if fields.get(raw["field"]) is None or places.get(raw["area"]) is None:
            raise ValueError(f"{path.name}: {title!r}: unknown field or area")
        if raw["who"] not in _SAMPLE_WHO or int(raw["days"]) < 1:
            raise ValueError(f"{path.name}: {title!r}: who must be one of {list(_SAMPLE_WHO)}, "
                             "days at least 1")  # fmt: skip
        day = today + timedelta(days=int(raw["days"]))
        on = [_WEEKDAYS.index(d) for d in raw.get("weekdays", [])]
        while on and day.weekday() not in on:  # the first such day from then on
            day += timedelta(days=1)
        high_school_ok, min_age = _SAMPLE_WHO[raw["who"]]
        draft = CallDraft(
            title=title,
            description=str(raw["description"]),
            field=str(raw["field"]),
            area=str(raw["area"]),
            place=str(raw["place"]),
            meeting_point=str(raw["meeting_point"]),
            starts_at=datetime.combine(day, time.fromisoformat(raw["start"]), TOKYO),
            ends_at=datetime.combine(day, time.fromisoformat(raw["end"]), TOKYO),
            capacity=int(raw["capacity"]),
            high_school_ok=high_school_ok,
            min_age=min_age,
            bring=str(raw.get("bring", "")),
        )
        calls.append(
            SampleCall(
                str(raw["group"]),
                draft,
                tuple(raw.get("confirmed", ())),
                tuple(raw.get("waiting", ())),
            )
        )
    return people, calls
