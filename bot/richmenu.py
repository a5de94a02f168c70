"""The LINE rich menus, drawn here as PNGs so nothing has to be designed by hand: the default
one every resident sees (FAQ・団体をさがす・ボランティア・予約確認・募集する・ヘルプ), and the
one a group's representative is switched to when they link (募集する・自分の募集 first)."""

from __future__ import annotations

import io
import tomllib
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

import knowledge

WIDTH, HEIGHT = 2500, 1686
MENU_FILE = Path(knowledge.__file__).with_name("richmenu.toml")


@cache
def _menus() -> dict[str, list[tuple[str, str, str, str]]]:
    """(label, English subtitle, payload, colour) per tile, per menu, from the data file."""
    with MENU_FILE.open("rb") as fh:
        data = tomllib.load(fh)
    return {
        name: [(t["label"], t["subtitle"], t["payload"], t["colour"]) for t in tiles]
        for name, tiles in data.items()
    }


# Fonts that can draw Japanese, where a machine has them (Debian: fonts-noto-cjk, fonts-ipafont).
CJK_FONTS = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
]


def menu_items(menu: str = "resident") -> list[tuple[str, str]]:
    """(label, postback payload) for each tile, left to right, top to bottom."""
    return [(label, payload) for label, _, payload, _ in _menus()[menu]]


def _font(
    size: int, font_path: str | None
) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    for path in [font_path, *CJK_FONTS]:
        if path and Path(path).exists():
            return ImageFont.truetype(path, size), True
    return ImageFont.load_default(size=size), False


def draw(font_path: str | None = None, menu: str = "resident") -> bytes:
    """The menu image as PNG. Without a Japanese font the tiles carry the English words."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    pen = ImageDraw.Draw(image)
    title_font, japanese = _font(150, font_path)
    sub_font, _ = _font(80, font_path)
    if not japanese:  # the English words are longer: a smaller size fits the tiles
        title_font, _ = _font(110, font_path)
    tile_w, tile_h = WIDTH // 3, HEIGHT // 2
    for i, (label, subtitle, _, colour) in enumerate(_menus()[menu]):
        x, y = (i % 3) * tile_w, (i // 3) * tile_h
        pen.rectangle((x + 12, y + 12, x + tile_w - 12, y + tile_h - 12), fill=colour)
        main = label if japanese else subtitle
        pen.text(
            (x + tile_w // 2, y + tile_h // 2 - 40),
            main,
            fill="white",
            font=title_font,
            anchor="mm",
        )
        if japanese:
            pen.text(
                (x + tile_w // 2, y + tile_h // 2 + 110),
                subtitle,
                fill="white",
                font=sub_font,
                anchor="mm",
            )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
