"""The directory CSV: every row checked, errors by line and column, all or nothing."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bot import directory_csv
from knowledge.fields import FieldIndex
from knowledge.places import PlaceIndex
from storage import Store
from storage.store import GroupRecord

HEADER = "key,name,description,fields,areas,contact,welcomes_newcomers,welcomes_young,verified\n"
GOOD = (
    HEADER
    + "g-1,大船こども広場,土曜に遊び場を開く,children,大船,info@example.jp,true,true,true\n"
    + "g-2,海をきれいにする会,海岸清掃,環境の保全を図る活動|まちづくり,鎌倉地域,,はい,いいえ,\n"
    + "g-3,市内の見守りネット,高齢者の見守り,welfare,市内全域,,1,0,1\n"
)


@pytest.fixture(scope="module")
def fields() -> FieldIndex:
    return FieldIndex.load()


@pytest.fixture(scope="module")
def places() -> PlaceIndex:
    return PlaceIndex.load()


def test_good_file_parses_with_names_or_codes(fields: FieldIndex, places: PlaceIndex) -> None:
    parsed = directory_csv.parse(GOOD.encode(), fields, places)
    assert parsed.errors == []
    one, two, three = parsed.records
    assert (one.fields, one.areas, one.welcomes_young) == (("children",), ("ofuna",), True)
    assert two.fields == ("environment", "community")
    assert (two.areas, two.welcomes_newcomers, two.welcomes_young, two.verified) == (
        ("kamakura",),
        True,
        False,
        True,
    )
    assert three.citywide


def test_shift_jis_from_excel_is_read(fields: FieldIndex, places: PlaceIndex) -> None:
    parsed = directory_csv.parse(GOOD.encode("cp932"), fields, places)
    assert parsed.encoding == "shift_jis"
    assert parsed.records[0].name == "大船こども広場"


def test_utf8_with_bom_is_read(fields: FieldIndex, places: PlaceIndex) -> None:
    parsed = directory_csv.parse(GOOD.encode("utf-8-sig"), fields, places)
    assert len(parsed.records) == 3


def test_errors_name_line_and_column(fields: FieldIndex, places: PlaceIndex) -> None:
    bad = (
        HEADER
        + "ok-1,よい団体,,children,大船,,,,\n"
        + "bad key!,,説明,宇宙開発,横浜,,たぶん,,\n"
        + "ok-1,別の名前,,children,大船,,,,\n"
    )
    parsed = directory_csv.parse(bad.encode(), fields, places)
    found = {(p.line, p.column) for p in parsed.errors}
    assert {
        (3, "key"),
        (3, "name"),
        (3, "fields"),
        (3, "areas"),
        (3, "welcomes_newcomers"),
    } <= found
    assert (4, "key") in found  # same key, different content
    assert all(str(p).startswith(f"{p.line}行目") for p in parsed.errors)


def test_everyday_field_words_import_and_a_shared_one_names_its_fields(
    fields: FieldIndex, places: PlaceIndex
) -> None:
    """A word people use for a field (子育て, ごみ拾い) is that field; one that two fields
    share (防災) is refused with both names, so the row can be fixed."""
    data = HEADER + "a,子どもの会,,子育て|ごみ拾い,大船,,,,\n" + "b,まもる会,,防災,大船,,,,\n"
    parsed = directory_csv.parse(data.encode(), fields, places)
    assert [r.fields for r in parsed.records] == [("children", "environment")]
    (problem,) = parsed.errors
    assert (problem.line, problem.column) == (3, "fields")
    assert "「防災」" in problem.message
    assert "「災害救援・防災」、「防犯・地域安全」" in problem.message  # two names, told apart


def test_exact_duplicate_rows_import_once(fields: FieldIndex, places: PlaceIndex) -> None:
    row = "d-1,重複の会,,children,大船,,,,\n"
    parsed = directory_csv.parse((HEADER + row + row).encode(), fields, places)
    assert parsed.errors == []
    assert len(parsed.records) == 1
    assert parsed.warnings[0].line == 3


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"name,description\nx,y\n",
        (HEADER + 'q-1,"unterminated,children,大船\n').encode(),
        (HEADER + "t-1,多すぎ,,children,大船,,,,,extra,more\n").encode(),
        HEADER.encode(),
        "key,name\n\udcff".encode("utf-8", "surrogateescape"),
    ],
)
def test_malformed_files_are_refused(data: bytes, fields: FieldIndex, places: PlaceIndex) -> None:
    parsed = directory_csv.parse(data, fields, places)
    assert parsed.errors
    assert parsed.records == [] or parsed.errors


def test_oversized_file_is_refused_before_parsing(fields: FieldIndex, places: PlaceIndex) -> None:
    data = (HEADER + "x-1,a,,children,大船,,,,\n") + "#" * (directory_csv.MAX_BYTES + 1)
    parsed = directory_csv.parse(data.encode(), fields, places)
    assert "大きすぎ" in parsed.errors[0].message


def test_import_is_all_or_nothing(store: Store, fields: FieldIndex, places: PlaceIndex) -> None:
    _, summary = directory_csv.import_csv(store, GOOD.encode(), fields, places)
    assert summary is not None
    assert (summary.created, summary.updated) == (3, 0)
    broken = GOOD.replace("g-3,市内の見守りネット", "g-3,") + "g-4,新しい会,,children,大船,,,,\n"
    parsed, summary = directory_csv.import_csv(store, broken.encode(), fields, places)
    assert summary is None
    assert parsed.errors
    assert store.count_groups() == 3
    assert store.all_groups()[2].name == "市内の見守りネット"


def test_import_is_an_idempotent_upsert(
    store: Store, fields: FieldIndex, places: PlaceIndex
) -> None:
    directory_csv.import_csv(store, GOOD.encode(), fields, places)
    changed = GOOD.replace("大船こども広場", "大船こども広場（新）")
    _, summary = directory_csv.import_csv(store, changed.encode(), fields, places)
    assert summary is not None
    assert (summary.created, summary.updated) == (0, 3)
    assert store.count_groups() == 3
    assert store.all_groups()[0].name == "大船こども広場（新）"


def test_samples_never_mix_with_a_real_directory(
    store: Store, fields: FieldIndex, places: PlaceIndex
) -> None:
    loaded = directory_csv.load_samples_if_empty(store, fields, places)
    assert loaded >= 30
    assert directory_csv.load_samples_if_empty(store, fields, places) == 0
    assert all(g.name.endswith("（サンプル）") for g in store.all_groups(include_samples=True))
    _, summary = directory_csv.import_csv(store, GOOD.encode(), fields, places)
    assert summary is not None
    assert summary.samples_left == loaded  # an import never deletes: removing is its own act
    assert store.count_groups() == 3 + loaded
    assert store.remove_samples(lambda _: "{}").removed
    assert store.count_groups() == 3
    assert directory_csv.load_samples_if_empty(store, fields, places) == 0


def test_export_round_trips(store: Store, fields: FieldIndex, places: PlaceIndex) -> None:
    import io

    directory_csv.import_csv(store, GOOD.encode(), fields, places)
    out = io.StringIO()
    assert directory_csv.write(store.all_groups(), out) == 3
    again = directory_csv.parse(out.getvalue().encode(), fields, places)
    assert again.errors == []
    original = directory_csv.parse(GOOD.encode(), fields, places).records
    assert again.records == [replace(r, fields=tuple(sorted(r.fields))) for r in original]


# --- cells a spreadsheet would run -------------------------------------------------------------

# Every way a cell can start a formula, as a group could have typed it, and two legit values
# that start with ' and must come back exactly as they were.
FORMULAS = (
    '=HYPERLINK("https://evil.example/","詳しくはこちら")',
    "+SUM(A1:A9)",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "-2+3",
    "-0467-23-1234（代表）",  # text that happens to start with -, like a phone number
    "+81 467-23-1234",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted by hand",
)
LEGIT_QUOTES = ("'90年代の歌を歌う会", "'")


@pytest.mark.parametrize("value", [*FORMULAS, *LEGIT_QUOTES, "", "ふつうの文", "=", "''-x"])
def test_guard_and_restore_are_inverse(value: str) -> None:
    from bot.csv_cells import STARTS_FORMULA, guard, restore

    assert restore(guard(value)) == value
    assert guard(value)[:1] not in STARTS_FORMULA


def _dangerous_records() -> list[GroupRecord]:
    values = [*FORMULAS, *LEGIT_QUOTES]
    return [
        GroupRecord(
            key=f"-k{i}" if i % 2 else f"k{i}",  # a key may start with - too
            name=value,
            description=values[(i + 1) % len(values)],
            fields=("children",),
            areas=("ofuna",) if i % 2 else (),
            contact=values[(i + 2) % len(values)],
        )
        for i, value in enumerate(values)
    ]


def _cells(text: str) -> list[str]:
    import csv
    import io

    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def test_export_cells_never_start_a_formula_and_import_back_unchanged(
    store: Store, fields: FieldIndex, places: PlaceIndex
) -> None:
    import io

    from bot.csv_cells import STARTS_FORMULA

    records = _dangerous_records()
    store.import_groups(records)
    out = io.StringIO()
    assert directory_csv.write(store.all_groups(), out) == len(records)
    cells = _cells(out.getvalue())
    running = [c for c in cells if c[:1] in STARTS_FORMULA]
    assert running == []  # before: all 9 formula values were written as they are
    assert "'90年代の歌を歌う会" in cells  # a legit leading ' is left alone
    again = directory_csv.parse(out.getvalue().encode("utf-8-sig"), fields, places)
    assert again.errors == []
    assert sorted(again.records, key=lambda r: r.key) == sorted(records, key=lambda r: r.key)
    summary = store.import_groups(again.records)  # export → import changes nothing
    assert (summary.created, summary.updated) == (0, len(records))
    assert {(g.key, g.name, g.description, g.contact) for g in store.all_groups()} == {
        (r.key, r.name, r.description, r.contact) for r in records
    }


def test_hand_quoted_cells_import_without_their_quote(
    fields: FieldIndex, places: PlaceIndex
) -> None:
    text = HEADER + "q-1,'=会の名前,'@説明,children,大船,'-0467-23-1234,,,\n"
    (record,) = directory_csv.parse(text.encode(), fields, places).records
    assert (record.name, record.description, record.contact) == (
        "=会の名前",
        "@説明",
        "-0467-23-1234",
    )


def test_cli_export_is_guarded(db_url: str, tmp_path: Path) -> None:
    import argparse

    from bot import groups_cli
    from bot.config import Settings
    from bot.csv_cells import STARTS_FORMULA
    from storage import create_db_engine, migrate

    engine = create_db_engine(db_url)
    migrate(engine)
    seeded = Store(engine)
    seeded.import_groups(_dangerous_records())
    seeded.close()
    out = tmp_path / "directory.csv"
    args = argparse.Namespace(groups_command="export", out=str(out), samples=False)
    assert groups_cli.run(args, Settings(database_url=db_url, sample_groups=False)) == 0
    cells = _cells(out.read_text(encoding="utf-8-sig"))
    assert len(cells) == 9 * (1 + len(_dangerous_records()))
    assert [c for c in cells if c[:1] in STARTS_FORMULA] == []
