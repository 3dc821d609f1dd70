"""pyproject's packaging names every folder it installs, so setuptools builds without warnings.

setuptools treats every folder under a package as an importable (namespace) package and warns about
any that `packages` does not list ("Package would be ignored"); a data folder added to a room without
a line in pyproject would bring the warning back, or silently leave its files out of the wheel.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
PACKAGE_DIR: dict[str, str] = CONFIG["package-dir"]
PACKAGES: list[str] = CONFIG["packages"]


def folder_of(package: str) -> Path:
    """The folder a package is installed from: its longest mapped prefix, then the rest as subfolders."""
    parts = package.split(".")
    for cut in range(len(parts), 0, -1):
        prefix = ".".join(parts[:cut])
        if prefix in PACKAGE_DIR:
            return ROOT / PACKAGE_DIR[prefix] / Path(*parts[cut:])
    raise AssertionError(f"{package}: no package-dir mapping covers it")


def test_every_listed_package_is_a_folder() -> None:
    missing = [p for p in PACKAGES if not folder_of(p).is_dir()]
    assert not missing, missing


def test_every_folder_of_a_mapped_room_is_listed() -> None:
    listed = {folder_of(p) for p in PACKAGES}
    unlisted = sorted(
        str(d.relative_to(ROOT))
        for folder in PACKAGE_DIR.values()
        for d in [ROOT / folder, *(ROOT / folder).rglob("*")]
        if d.is_dir()
        and "__pycache__" not in d.parts
        and d not in listed
        # recapp/ itself holds cli/ and host/ only as code; the mapped rooms are listed by their own names
        and not any(
            d == ROOT / other or (ROOT / other) in d.parents
            for other in PACKAGE_DIR.values()
            if other != folder
        )
    )
    assert not unlisted, f"folders setuptools would warn about (add them to packages): {unlisted}"


def test_everything_installs_under_the_recapp_namespace() -> None:
    assert all(p == "recapp" or p.startswith("recapp.") for p in PACKAGES), PACKAGES
    assert all(name.startswith("recapp") for name in PACKAGE_DIR), PACKAGE_DIR
