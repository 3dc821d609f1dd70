"""The C sources built into APP images agree with their Makefiles and with records.yaml.

recapp parses what these programs print, and records.yaml is the contract; these tests read the
C printf formats and the Makefiles as text, so they need neither a compiler nor podman.
"""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

WORKLOADS = Path(__file__).resolve().parents[2] / "workloads"
DIRS = ["mpi", "pmix_probe", "mpi_levels", "mpich"]


def src(workload: str) -> Path:
    return WORKLOADS / workload / "src"


# One or more adjacent C string literals ("a" "b" is one string to the compiler).
LITERALS = re.compile(r'(?:"(?:\\.|[^"\\\n])*"\s*)+')
LITERAL = re.compile(r'"((?:\\.|[^"\\\n])*)"')
# A value printed unquoted must be a single conversion, never literal text.
UNQUOTED_VALUE = re.compile(r"%(?:\.\d+)?(?:d|s|f|ld|lu|lld)")


def c_strings(text: str) -> list[str]:
    """Every string literal in C source, adjacent literals joined, escapes for quote/newline undone."""
    out = []
    for group in LITERALS.finditer(text):
        joined = "".join(LITERAL.findall(group.group(0)))
        out.append(joined.replace('\\"', '"').replace("\\n", "\n"))
    return out


def makefile_programs(directory: Path) -> list[str]:
    match = re.search(r"^PROGRAMS\s*=\s*(.+)$", (directory / "Makefile").read_text(), re.MULTILINE)
    assert match, f"{directory}/Makefile has no PROGRAMS line"
    return match.group(1).split()


def records(directory: str) -> dict:
    return yaml.safe_load((src(directory) / "records.yaml").read_text())["records"]


def record_formats(directory: Path, tag: str) -> list[tuple[Path, str]]:
    """printf formats (file, text) that start a `tag` record."""
    found = []
    for path in sorted([*directory.glob("*.c"), *directory.glob("*.h")]):
        found += [(path, s) for s in c_strings(path.read_text()) if s.startswith(tag + " ")]
    return found


def parse_format(fmt: str) -> tuple[list[str], list[str]]:
    """Keys in order and the quoted ones, from a record's printf format."""
    assert fmt.endswith("\n") and fmt.count("\n") == 1, f"not exactly one line: {fmt!r}"
    tokens = fmt.rstrip("\n").split(" ")[1:]
    keys, quoted = [], []
    for token in tokens:
        key, sep, value = token.partition("=")
        assert sep and re.fullmatch(r"[a-z_]+", key), f"bad pair {token!r} in {fmt!r}"
        if value.startswith('"'):
            assert value.endswith('"') and len(value) > 1, f"unbalanced quotes in {token!r}"
            quoted.append(key)
        else:
            assert UNQUOTED_VALUE.fullmatch(value), f"unquoted value {value!r} of {key} is not one conversion"
        keys.append(key)
    return keys, quoted


ALL_RECORDS = [(d, tag) for d in DIRS for tag in records(d)]


@pytest.mark.parametrize("directory", DIRS)
def test_makefile_lists_exactly_the_programs_in_the_directory(directory):
    d = src(directory)
    programs = makefile_programs(d)
    sources = sorted(p.stem for p in d.glob("*.c"))
    assert sorted(programs) == sources


@pytest.mark.parametrize("directory", DIRS)
def test_makefile_always_builds_warning_clean(directory):
    text = (src(directory) / "Makefile").read_text()
    flags = re.search(r"^WARNFLAGS\s*=\s*(.+)$", text, re.MULTILINE)
    assert flags and set(flags.group(1).split()) >= {"-Wall", "-Wextra", "-Werror"}
    # WARNFLAGS is outside CFLAGS so a packager's CFLAGS cannot drop it; it must reach the compile line.
    assert re.search(r"^\t\$\((?:MPICC|CC)\) .*\$\(WARNFLAGS\)", text, re.MULTILINE)


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed on this machine")
@pytest.mark.parametrize("directory", DIRS)
@pytest.mark.parametrize(("args", "bindir"), [([], "/usr/local/bin"), (["PREFIX=/opt/app"], "/opt/app/bin")])
def test_make_install_compiles_every_program_and_honours_destdir(tmp_path, directory, args, bindir):
    work = tmp_path / directory
    shutil.copytree(src(directory), work)
    # -n prints the recipe without running it; `true` stands in for pkg-config so no PMIx is needed.
    out = subprocess.run(
        ["make", "-n", "-C", str(work), "install", "DESTDIR=/stage", "PKG_CONFIG=true", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    programs = makefile_programs(work)
    for program in programs:
        assert re.search(rf"-o {program} {program}\.c\b", out), f"no compile line for {program}"
    assert f"install -m 0755 {' '.join(programs)} /stage{bindir}/" in out


@pytest.mark.parametrize(("directory", "tag"), ALL_RECORDS)
def test_printf_format_has_the_documented_keys_in_order(directory, tag):
    spec = records(directory)[tag]
    formats = record_formats(src(directory), tag)
    assert len(formats) == 1, f"{tag}: expected one printf format, found {[str(p) for p, _ in formats]}"
    keys, quoted = parse_format(formats[0][1])
    assert keys == spec["keys"]
    assert quoted == spec["quoted"]


@pytest.mark.parametrize(("directory", "tag"), ALL_RECORDS)
def test_every_listed_program_prints_the_record(directory, tag):
    d = src(directory)
    programs = records(directory)[tag]["program"]
    programs = [programs] if isinstance(programs, str) else programs
    assert set(programs) <= set(makefile_programs(d))
    [(path, _)] = record_formats(d, tag)
    for program in programs:
        source = (d / f"{program}.c").read_text()
        if path.suffix == ".c":
            assert path.stem == program, f"{tag} is printed by {path.name}, not {program}.c"
            continue
        # Printed by a helper in a local header: the program must include it and call the helper.
        header = path.read_text()
        before = header[: header.index(f'"{tag} ')]
        helper = re.findall(r"static inline void (\w+)\(", before)[-1]
        assert f'#include "{path.name}"' in source and f"{helper}(" in source, f"{program} never prints {tag}"


def test_pmix_probe_reports_every_documented_step_in_order():
    spec = yaml.safe_load((src("pmix_probe") / "records.yaml").read_text())["steps"]
    source = (src("pmix_probe") / "pmix_probe.c").read_text()
    seen = []
    for name in re.findall(r'\bstep\("(\w+)"', source):
        if name not in seen:
            seen.append(name)
    assert seen == spec


def test_pmix_probe_links_pmix_not_mpi():
    makefile = (src("pmix_probe") / "Makefile").read_text()
    source = (src("pmix_probe") / "pmix_probe.c").read_text()
    assert "--libs pmix" in makefile
    assert "mpicc" not in makefile.lower() and "<mpi.h>" not in source


@pytest.mark.parametrize(
    ("fmt", "problem"),
    [
        ("RING size=%d  laps=%d\n", "bad pair"),
        ("RING size=%d laps=%d", "one line"),
        ('HELLO mpi_version="%s\n', "unbalanced"),
        ("HELLO host=%s %s\n", "bad pair"),
        ("HELLO host=n-%s\n", "one conversion"),
    ],
)
def test_format_checker_rejects_malformed_records(fmt, problem):
    # The checks above are only as good as parse_format; make sure it can fail.
    with pytest.raises(AssertionError, match=problem):
        parse_format(fmt)
