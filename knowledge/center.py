"""How residents reach the 市民活動センター, as the operator writes it in a TOML file
(``CENTER_FILE``; ``center.example.toml`` shows every key). Nothing here has a default: the
guideline gives no address, phone number, opening hours or link, and the bot never invents
one. What is left empty is said to be unknown.

The words around the details (「住所：」「電話：」) are in ``knowledge/messages.toml``; the
details themselves are shown as the operator wrote them, in either language.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path

SITE_KEYS = ("name", "address", "phone", "hours")
LINK_KEYS = ("web", "guideline_url", "ordinance_url")
MAX_VALUE = 300  # characters: an address or a line of hours, not a page


class CenterFileError(ValueError):
    """The center file is missing, not TOML, or has a key or value we do not know."""


@dataclass(frozen=True, slots=True)
class CenterSite:
    """One place of the center (it may have more than one)."""

    name: str = ""
    address: str = ""
    phone: str = ""
    hours: str = ""


@dataclass(frozen=True, slots=True)
class CenterDetails:
    """The center's contact details and the links to the ordinance's and the guideline's
    texts; every value empty unless the operator set it."""

    sites: tuple[CenterSite, ...] = ()
    web: str = ""  # the center's web page
    guideline_url: str = ""  # the guideline's text on the city's site
    ordinance_url: str = ""  # the ordinance's text
    note: str = ""  # free text (CENTER_CONTACT): how to reach the center, as written

    @property
    def reachable(self) -> bool:
        """Whether anything says how to reach the center (a site's detail, the web page or
        the note)."""
        return bool(self.web or self.note or any(_site_values(s) for s in self.sites))

    @property
    def has_texts(self) -> bool:
        """Whether a link to the ordinance's or the guideline's text is set."""
        return bool(self.guideline_url or self.ordinance_url)

    def with_note(self, note: str) -> CenterDetails:
        """The same details with ``note`` (CENTER_CONTACT) added after any note there is."""
        note = note.strip()
        if not note:
            return self
        return replace(self, note="\n".join(n for n in (self.note, note) if n))


def load_center(path: Path) -> CenterDetails:
    """Read a center file. Unknown keys are errors (a misspelt ``phone`` would otherwise be
    silently unknown to residents).

    Raises:
        CenterFileError: the file cannot be read or does not have the expected shape.
    """
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise CenterFileError(f"CENTER_FILE {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CenterFileError(f"CENTER_FILE {path}: not TOML ({exc})") from exc
    unknown = set(data) - {*LINK_KEYS, "note", "site"}
    if unknown:
        raise CenterFileError(f"CENTER_FILE {path}: unknown keys {sorted(unknown)}")
    sites = data.get("site", [])
    if not isinstance(sites, list) or not all(isinstance(s, dict) for s in sites):
        raise CenterFileError(f"CENTER_FILE {path}: [[site]] must be tables")
    parsed = []
    for number, site in enumerate(sites, 1):
        extra = set(site) - set(SITE_KEYS)
        if extra:
            raise CenterFileError(
                f"CENTER_FILE {path}: site {number}: unknown keys {sorted(extra)}"
            )
        parsed.append(CenterSite(**{k: _value(path, site, k) for k in SITE_KEYS}))
    return CenterDetails(
        sites=tuple(s for s in parsed if _site_values(s)),
        note=_value(path, data, "note"),
        **{k: _value(path, data, k) for k in LINK_KEYS},
    )


def _value(path: Path, table: dict[str, object], key: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str):
        raise CenterFileError(f"CENTER_FILE {path}: {key} must be a string")
    value = value.strip()
    if len(value) > MAX_VALUE:
        raise CenterFileError(f"CENTER_FILE {path}: {key} is longer than {MAX_VALUE} characters")
    return value


def _site_values(site: CenterSite) -> list[str]:
    """The details of a site that say how to reach it (a name alone does not)."""
    return [v for v in (site.address, site.phone, site.hours) if v]
