"""Ranking groups for a resident, on SQLite and PostgreSQL."""

from __future__ import annotations

from storage import Store
from storage.store import GroupRecord

NEIGHBOURS_OF_OFUNA = ("kamakura", "fukasawa", "tamanawa")


def _directory(store: Store) -> None:
    store.import_groups(
        [
            GroupRecord("a", "A 大船の子ども", fields=("children",), areas=("ofuna",)),
            GroupRecord(
                "b", "B 大船の子ども(満員)", fields=("children",), areas=("ofuna",),
                welcomes_newcomers=False,
            ),
            GroupRecord("c", "C 深沢の子ども", fields=("children",), areas=("fukasawa",)),
            GroupRecord("d", "D 市内の子ども", fields=("children", "welfare"), areas=()),
            GroupRecord("e", "E 腰越の子ども", fields=("children",), areas=("koshigoe",)),
            GroupRecord("f", "F 大船の環境", fields=("environment",), areas=("ofuna",)),
            GroupRecord(
                "g", "G 未確認の子ども", fields=("children",), areas=("ofuna",), verified=False
            ),
            GroupRecord(
                "h", "H 大船と腰越の子ども", fields=("children",), areas=("koshigoe", "ofuna")
            ),
        ]
    )  # fmt: skip


def test_rank_field_then_area_then_welcome(store: Store) -> None:
    _directory(store)
    groups, total = store.find_groups("children", "ofuna", NEIGHBOURS_OF_OFUNA, limit=10)
    assert total == 6  # the unverified group is never shown
    assert [g.key for g in groups] == ["a", "h", "b", "c", "d", "e"]
    assert [g.area_rank for g in groups] == [0, 0, 0, 1, 2, 3]


def test_paging(store: Store) -> None:
    _directory(store)
    first, total = store.find_groups("children", "ofuna", NEIGHBOURS_OF_OFUNA, limit=4)
    second, _ = store.find_groups("children", "ofuna", NEIGHBOURS_OF_OFUNA, limit=4, offset=4)
    assert total == 6
    assert [g.key for g in first + second] == ["a", "h", "b", "c", "d", "e"]


def test_without_field_or_area(store: Store) -> None:
    _directory(store)
    any_field, total = store.find_groups(None, "ofuna", NEIGHBOURS_OF_OFUNA, limit=20)
    assert total == 7
    assert any_field[0].area_rank == 0
    anywhere, total = store.find_groups("environment", None, limit=20)
    assert [g.key for g in anywhere] == ["f"]


def test_group_view_carries_fields_and_areas(store: Store) -> None:
    _directory(store)
    (d,) = [g for g in store.find_groups("welfare", None)[0]]
    assert d.fields == ("children", "welfare")
    assert d.citywide
    assert store.get_group(d.id) == d


def test_field_counts_for_an_area(store: Store) -> None:
    _directory(store)
    assert store.field_counts("ofuna") == [("children", 4), ("environment", 1), ("welfare", 1)]
    assert dict(store.field_counts())["children"] == 6
