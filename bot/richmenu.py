"""The LINE rich menus: the default one every resident sees (質問する・団体をさがす・ボランティアを
さがす・予約確認・募集する・ヘルプ), and the one a group's representative is switched to when they
link (募集する・自分の募集 first).

Their words are in ``knowledge/richmenu.toml``; the images are drawn here with Pillow (tiles,
an icon each, the Japanese label and a small English one) and kept in the repository as
``bot/static/richmenu/<menu>.png``, so that ``line setup-richmenu`` uploads Japanese tiles on a
machine without a Japanese font. ``line draw-richmenu`` draws them again (it needs one: Debian's
fonts-noto-cjk); each image carries the hash of the words it was drawn from in a PNG text
chunk, and a test fails when the words changed and the images were not drawn again.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import tomllib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

import knowledge

WIDTH, HEIGHT = 2500, 1686  # LINE's large rich menu: 3 × 2 tiles
COLS, ROWS = 3, 2
MENUS = ("resident", "representative")
MENU_FILE = Path(knowledge.__file__).with_name("richmenu.toml")
ASSETS = Path(__file__).resolve().parent / "static" / "richmenu"
WORDS_KEY = "tsunagaru-words"  # the PNG text chunk: which words an image was drawn from
SCALE = 2  # drawn at twice the size and scaled down: smooth edges on shapes and letters
GAP = 14  # white between the tiles (at the final size)

# Fonts that can draw Japanese, where a machine has them (Debian: fonts-noto-cjk, fonts-ipafont).
# Index 0 of the Noto collections is its Japanese face (Noto Sans CJK JP).
CJK_FONTS = [
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
]

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True, slots=True)
class Tile:
    """One tile of a menu, as ``knowledge/richmenu.toml`` describes it."""

    label: str
    lines: tuple[str, ...]
    subtitle: str
    payload: str
    colour: str
    icon: str


@cache
def tiles(menu: str = "resident") -> tuple[Tile, ...]:
    """The tiles of ``menu``, left to right, top to bottom."""
    with MENU_FILE.open("rb") as fh:
        data = tomllib.load(fh)
    lines = [tuple(t.get("lines") or [t["label"]]) for t in data[menu]]
    return tuple(
        Tile(t["label"], shown, t["subtitle"], t["payload"], t["colour"], t["icon"])
        for t, shown in zip(data[menu], lines, strict=True)
    )


def menu_items(menu: str = "resident") -> list[tuple[str, str]]:
    """(label, postback payload) for each tile, left to right, top to bottom."""
    return [(t.label, t.payload) for t in tiles(menu)]


def words_hash(menu: str) -> str:
    """A hash of everything an image of ``menu`` shows (its tiles' words, colours, icons)."""
    words = json.dumps([asdict(t) for t in tiles(menu)], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(words.encode()).hexdigest()


def asset(menu: str) -> Path:
    """Where the drawn image of ``menu`` is kept in the repository."""
    return ASSETS / f"{menu}.png"


def drawn_from(png: bytes) -> str | None:
    """The words hash an image carries (None for an image drawn elsewhere)."""
    with Image.open(io.BytesIO(png)) as img:
        img.load()
        return getattr(img, "text", {}).get(WORDS_KEY)


def image(menu: str = "resident", font_path: str | None = None) -> bytes:
    """What ``line setup-richmenu`` uploads: the kept Japanese image, or one drawn now with
    ``font_path`` when it is given (or when the kept image is missing)."""
    if font_path is None and asset(menu).exists():
        return asset(menu).read_bytes()
    return draw(font_path, menu)


def japanese_font(font_path: str | None = None) -> str | None:
    """``font_path`` if it exists, else the first Japanese font this machine has, else None."""
    for path in [font_path, *CJK_FONTS]:
        if path and Path(path).exists():
            return path
    return None


def save_assets(font_path: str | None = None, out: Path = ASSETS) -> list[Path]:
    """Draw both menus with a Japanese font and write them to ``out``; the paths written.

    Raises:
        ValueError: no Japanese font (the kept images must carry the Japanese words).
    """
    found = japanese_font(font_path)
    if found is None or (font_path is not None and found != font_path):
        raise ValueError(f"no Japanese font at {font_path or ', '.join(CJK_FONTS)}")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for menu in MENUS:
        path = out / f"{menu}.png"
        path.write_bytes(draw(found, menu))
        written.append(path)
    return written


def draw(font_path: str | None = None, menu: str = "resident") -> bytes:
    """The menu image as PNG. Without a Japanese font the tiles carry the English words."""
    path = japanese_font(font_path)
    canvas = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE), "white")
    pen = ImageDraw.Draw(canvas)
    tile_w, tile_h = WIDTH // COLS, HEIGHT // ROWS
    for i, tile in enumerate(tiles(menu)):
        x, y = (i % COLS) * tile_w, (i // COLS) * tile_h
        _tile(pen, tile, (x * SCALE, y * SCALE, tile_w * SCALE, tile_h * SCALE), path)
    final = canvas.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    info = PngInfo()
    if path is not None:  # only a Japanese image shows the words the hash stands for
        info.add_text(WORDS_KEY, words_hash(menu))
    out = io.BytesIO()
    final.save(out, format="PNG", optimize=True, pnginfo=info)
    return out.getvalue()


def _font(path: str | None, size: int) -> Font:
    if path is None:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(path, size, index=0)


def _fit(path: str | None, lines: tuple[str, ...], size: int, width: int) -> tuple[Font, int]:
    """The largest font up to ``size`` in which every line fits ``width``, and its size."""
    while True:
        font = _font(path, size)
        if size <= 20 or all(font.getlength(line) <= width for line in lines):
            return font, size
        size -= 4


def _tile(
    pen: ImageDraw.ImageDraw, tile: Tile, box: tuple[int, int, int, int], path: str | None
) -> None:
    x, y, w, h = box
    gap = GAP * SCALE // 2
    pen.rounded_rectangle(
        (x + gap, y + gap, x + w - gap, y + h - gap), radius=36 * SCALE, fill=tile.colour
    )
    japanese = path is not None
    lines = tile.lines if japanese else (tile.subtitle,)
    label_font, label_size = _fit(
        path, lines, (112 if len(lines) == 1 else 100) * SCALE, w - 90 * SCALE
    )
    sub_font, sub_size = _fit(path, (tile.subtitle,), 58 * SCALE, w - 90 * SCALE)
    radius = 150 * SCALE
    line_h = int(label_size * 1.22)
    block = 2 * radius + 46 * SCALE + line_h * len(lines)
    if japanese:
        block += 22 * SCALE + int(sub_size * 1.2)
    top = y + (h - block) // 2
    cx, cy = x + w // 2, top + radius
    pen.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), fill="white")
    icon_r = int(radius * 0.78)
    ICONS[tile.icon](pen, cx, cy, icon_r, tile.colour, _font(path, icon_r))
    baseline = cy + radius + 46 * SCALE
    for line in lines:
        pen.text((cx, baseline + line_h // 2), line, fill="white", font=label_font, anchor="mm")
        baseline += line_h
    if japanese:
        sub_y = baseline + 22 * SCALE + int(sub_size * 0.6)
        pen.text((cx, sub_y), tile.subtitle, fill="white", font=sub_font, anchor="mm")


# --- icons: simple shapes in the tile's colour on a white disc ---------------------------------
Icon = Callable[[ImageDraw.ImageDraw, int, int, int, str, Font], None]


def _question(pen: ImageDraw.ImageDraw, cx: int, cy: int, r: int, ink: str, font: Font) -> None:
    """A speech bubble with a question mark."""
    pen.rounded_rectangle(
        (cx - r * 0.8, cy - r * 0.62, cx + r * 0.8, cy + r * 0.42), radius=r * 0.3, fill=ink
    )
    pen.polygon(
        [
            (cx - r * 0.42, cy + r * 0.3),
            (cx - r * 0.02, cy + r * 0.3),
            (cx - r * 0.5, cy + r * 0.82),
        ],
        fill=ink,
    )
    left, top, right, bottom = pen.textbbox((0, 0), "?", font=font)  # centred as it is seen
    at = (cx - (left + right) / 2, cy - r * 0.1 - (top + bottom) / 2)
    pen.text(at, "?", fill="white", font=font)


def _groups(pen: ImageDraw.ImageDraw, cx: int, cy: int, r: int, ink: str, font: Font) -> None:
    """Three people, the one in front outlined in white."""
    for dx, head, body in ((-0.56, 0.2, 0.34), (0.56, 0.2, 0.34), (0.0, 0.26, 0.46)):
        px = cx + dx * r
        hy = cy - r * (0.3 if dx else 0.4)
        outline = "white" if not dx else None
        stroke = int(r * 0.06) if not dx else 0
        top = hy + head * r + r * 0.06
        pen.chord(
            (px - body * r, top, px + body * r, top + 2 * body * r * 1.15),
            180, 360, fill=ink, outline=outline, width=stroke,
        )  # fmt: skip
        pen.ellipse(
            (px - head * r, hy - head * r, px + head * r, hy + head * r),
            fill=ink, outline=outline, width=stroke,
        )  # fmt: skip


def _volunteer(pen: ImageDraw.ImageDraw, cx: int, cy: int, r: int, ink: str, font: Font) -> None:
    """A heart."""
    points = []
    for step in range(120):
        t = 2 * math.pi * step / 120
        hx = 16 * math.sin(t) ** 3
        hy = 13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)
        points.append((cx + hx * r / 19, cy - hy * r / 19 - r * 0.05))
    pen.polygon(points, fill=ink)


def _bookings(pen: ImageDraw.ImageDraw, cx: int, cy: int, r: int, ink: str, font: Font) -> None:
    """A calendar page with a check mark."""
    w = int(r * 0.1)
    left, right, top, bottom = cx - r * 0.68, cx + r * 0.68, cy - r * 0.5, cy + r * 0.7
    pen.rounded_rectangle((left, top, right, bottom), radius=r * 0.12, outline=ink, width=w)
    pen.rounded_rectangle((left, top, right, top + r * 0.3), radius=r * 0.12, fill=ink)
    for dx in (-0.35, 0.35):
        pen.rounded_rectangle(
            (cx + dx * r - w * 0.6, top - r * 0.2, cx + dx * r + w * 0.6, top + r * 0.12),
            radius=w * 0.5, fill=ink,
        )  # fmt: skip
    pen.line(
        [(cx - r * 0.32, cy + r * 0.25), (cx - r * 0.07, cy + r * 0.48), (cx + r * 0.36, cy)],
        fill=ink, width=int(r * 0.13), joint="curve",
    )  # fmt: skip


def _recruit(pen: ImageDraw.ImageDraw, cx: int, cy: int, r: int, ink: str, font: Font) -> None:
    """A megaphone calling out."""
    pen.polygon(
        [(cx - r * 0.45, cy - r * 0.2), (cx + r * 0.28, cy - r * 0.6),
         (cx + r * 0.28, cy + r * 0.45), (cx - r * 0.45, cy + r * 0.12)],
        fill=ink,
    )  # fmt: skip
    pen.rounded_rectangle(
        (cx - r * 0.72, cy - r * 0.22, cx - r * 0.4, cy + r * 0.14), radius=r * 0.06, fill=ink
    )
    pen.polygon(
        [(cx - r * 0.42, cy + r * 0.1), (cx - r * 0.2, cy + r * 0.16),
         (cx - r * 0.1, cy + r * 0.62), (cx - r * 0.32, cy + r * 0.62)],
        fill=ink,
    )  # fmt: skip
    for reach in (0.3, 0.52):
        ax, ay = cx + r * 0.28, cy - r * 0.08
        pen.arc(
            (ax - reach * r, ay - reach * r, ax + reach * r, ay + reach * r),
            -40, 40, fill=ink, width=int(r * 0.08),
        )  # fmt: skip


def _my_calls(pen: ImageDraw.ImageDraw, cx: int, cy: int, r: int, ink: str, font: Font) -> None:
    """A clipboard with a list."""
    w = int(r * 0.1)
    pen.rounded_rectangle(
        (cx - r * 0.55, cy - r * 0.6, cx + r * 0.55, cy + r * 0.72),
        radius=r * 0.1, outline=ink, width=w,
    )  # fmt: skip
    pen.rounded_rectangle(
        (cx - r * 0.26, cy - r * 0.76, cx + r * 0.26, cy - r * 0.46), radius=r * 0.08, fill=ink
    )
    for row in (-0.2, 0.1, 0.4):
        ly = cy + row * r
        pen.ellipse((cx - r * 0.36, ly - w * 0.7, cx - r * 0.36 + w * 1.4, ly + w * 0.7), fill=ink)
        pen.line([(cx - r * 0.12, ly), (cx + r * 0.34, ly)], fill=ink, width=w)


def _help(pen: ImageDraw.ImageDraw, cx: int, cy: int, r: int, ink: str, font: Font) -> None:
    """A lifebuoy."""
    ring = int(r * 0.3)
    outer = r * 0.78
    pen.ellipse((cx - outer, cy - outer, cx + outer, cy + outer), outline=ink, width=ring)
    for start in (20, 110, 200, 290):
        pen.arc(
            (cx - outer, cy - outer, cx + outer, cy + outer),
            start, start + 50, fill="white", width=ring,
        )  # fmt: skip
    inner = outer - ring
    pen.ellipse((cx - inner, cy - inner, cx + inner, cy + inner), outline=ink, width=int(r * 0.05))
    pen.ellipse((cx - outer, cy - outer, cx + outer, cy + outer), outline=ink, width=int(r * 0.05))


ICONS: dict[str, Icon] = {
    "question": _question,
    "groups": _groups,
    "volunteer": _volunteer,
    "bookings": _bookings,
    "recruit": _recruit,
    "my_calls": _my_calls,
    "help": _help,
}
