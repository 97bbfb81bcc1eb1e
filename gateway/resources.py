"""Where the shipped data folders (templates, locales, config) live.

In a source checkout (or an editable install) they sit at the repository root beside ``gateway/``.
In a wheel they are packaged as ``gateway/_data/<name>`` (see ``[tool.hatch...force-include]``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def data_dir(name: str) -> Path:
    """Return the folder ``templates``, ``locales`` or ``config``, wherever the install put it."""
    packaged = _PACKAGE_DIR / "_data" / name
    if packaged.is_dir():
        return packaged
    source = _PACKAGE_DIR.parent / name
    if source.is_dir():
        return source
    raise FileNotFoundError(f"gateway data folder {name!r} not found (looked in {packaged} and {source})")


def templates_dir() -> Path:
    return data_dir("templates")


def locales_dir() -> Path:
    return data_dir("locales")


def config_dir() -> Path:
    return data_dir("config")
