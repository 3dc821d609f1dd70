"""The package as pip builds it: a complete wheel and a working editable install, both without warnings.

The rooms (builder/, k8s/, node/, …) sit at the top of the tree and install as recapp.builder,
recapp.k8s, … (pyproject's hatch `sources`). Both builds run offline with the build backend of the
test venv (`--no-build-isolation`; hatchling is in the dev extras), as `make setup` would run them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WHEEL = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
ROOMS: dict[str, str] = WHEEL["sources"]  # folder → where it lands in the wheel


def pip(*args: str) -> str:
    """pip's combined output; a failing pip fails the test with that output."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    return out


def warning_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "warning" in line.lower()]


def source_files() -> list[str]:
    """What a wheel must carry: every tracked or new file of recapp/ and the rooms, minus ignored ones."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no authoritative file list")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *WHEEL["only-include"]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    return sorted(f for f in listed if (ROOT / f).is_file())


def installed_name(path: str) -> str:
    room, _, rest = path.partition("/")
    return f"{ROOMS[room]}/{rest}" if room in ROOMS else path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheel")
    log = pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(out), ".")
    (built,) = out.glob("recapp-*.whl")
    return built, log


def test_every_room_is_mapped_below_recapp() -> None:
    assert sorted(ROOMS) == sorted(set(WHEEL["only-include"]) - {"recapp"})
    assert all(target == f"recapp/{room}" for room, target in ROOMS.items()), ROOMS


def test_the_wheel_builds_without_warnings(wheel: tuple[Path, str]) -> None:
    assert warning_lines(wheel[1]) == []


def test_the_wheel_carries_every_file_of_every_room(wheel: tuple[Path, str]) -> None:
    with zipfile.ZipFile(wheel[0]) as z:
        names = {n for n in z.namelist() if ".dist-info/" not in n}
    expected = {installed_name(f) for f in source_files()}
    # data folders (recipes' files, workload sources, templates) included, nothing outside recapp/
    assert sorted(expected - names) == []
    assert sorted(names - expected) == []
    assert "recapp/workloads/mpi/src/Makefile" in names
    assert "recapp/node/agent/__init__.py" in names


def test_the_wheel_finds_its_rooms_inside_recapp(wheel: tuple[Path, str], tmp_path: Path) -> None:
    """Installed from the wheel, recapp does not reach back into a checkout for its rooms."""
    with zipfile.ZipFile(wheel[0]) as z:
        z.extractall(tmp_path)
    probe = "import recapp, recapp.node.install as n; print(recapp.__path__); print(n.__file__)"
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r}); {probe}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert out == [repr([str(tmp_path / "recapp")]), str(tmp_path / "recapp/node/install.py")]


def test_editable_install_prints_no_warning_and_maps_every_room(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it pip first uninstalls the recapp of the venv running these tests
    # (a --prefix install still sees it), and every later test that runs the `recapp` script fails.
    flags = ["--no-deps", "--no-build-isolation", "--ignore-installed"]
    log = pip("install", *flags, "--prefix", str(prefix), "-e", ".")
    assert "uninstall" not in log.lower(), log
    assert warning_lines(log) == []
    (site_dir,) = prefix.glob("lib/python3*/site-packages")
    # A plain .pth naming the checkout: no import hook that mypy or a debugger could not follow.
    pth = [p.read_text().split() for p in site_dir.glob("*.pth")]
    assert pth == [[str(ROOT)]]
    # A bare interpreter (-I: no cwd, no PYTHONPATH; -S: not the test venv) with only that site dir:
    # every room resolves to the live file in the checkout under its recapp.* name.
    names = ["recapp.cli", "recapp.host", *(target.replace("/", ".") for target in ROOMS.values())]
    probe = (
        "import importlib.util, site, sys; "
        f"site.addsitedir({str(site_dir)!r}); "
        f"print('\\n'.join(importlib.util.find_spec(n).origin for n in {names!r})); "
        "import recapp.node.install as n; print(n.__file__)"
    )
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    expected = [str(ROOT / "recapp/cli/__init__.py"), str(ROOT / "recapp/host/__init__.py")]
    expected += [str(ROOT / room / "__init__.py") for room in ROOMS]
    assert proc.stdout.splitlines() == [*expected, str(ROOT / "node/install.py")]
    shutil.rmtree(prefix)
