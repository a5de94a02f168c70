"""The directory CSV: every row checked, errors by line and column, all or nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot import directory_csv
from knowledge.fields import FieldIndex
from knowledge.places import PlaceIndex
from storage import Store

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
