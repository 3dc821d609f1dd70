"""The official NAS Parallel Benchmarks (NPB 3.4.x, MPI) from a tarball the user supplies.

NASA distributes NPB from its own site, which recapp does not download from: the user gives the
tarball (a path or an http(s) URL) and its sha256 (`recapp build app --workload nas --npb-tarball F
--npb-sha256 H`). Everything here runs before the base image, any download of packages or any
compile, so a wrong file is refused in one line with nothing made:

1. the sha256 first (a file that is not the one the user vouched for is never opened as a tar);
2. then the layout of an NPB 3.4 tarball: `NPB3.4[.x]/NPB3.4-MPI/` with the files NPB's
   README.install names (`config/make.def.template`, `config/suite.def.template`, `Makefile`,
   `sys/`), and no member that would land outside its directory.

The build then follows README.install: `config/make.def` from `make.def.template` with MPIFC and
MPICC set to the APP's own wrappers (mpif90, mpicc; their flags come from the wrappers, so the
template's MPI include/library lines are emptied), `config/suite.def` listing the chosen
benchmarks and classes, and `make suite`. The binaries keep NPB's names (`ep.S.x`, `bt.A.x`, …).
Pure functions except `obtain` (reads or downloads the file).
"""

from __future__ import annotations

import re
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from recapp.builder.fetch import download, sha256_of
from recapp.builder.recipe import Recipe
from recapp.errors import RecipeError

# NPB 3.4's MPI benchmarks built by `make suite` with a class alone (DT also needs a graph shape).
BENCHMARKS = ("bt", "cg", "ep", "ft", "is", "lu", "mg", "sp")
CLASSES = ("S", "W", "A", "B", "C", "D", "E", "F")
# `NPB3.4.2/NPB3.4-MPI/…` (NPB3.4 without a micro version exists too).
TOP = re.compile(r"^(?P<top>NPB(?P<version>3\.4(?:\.\d+)?))/NPB3\.4-MPI/")
REQUIRED = ("config/make.def.template", "config/suite.def.template", "Makefile", "README.install")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
NPB_TEMPLATE = "app-npb.Containerfile.j2"
# make.def.template lines README.install says to set for an MPI build: the compilers become the
# APP's wrappers, which already carry the MPI include and library flags.
MAKE_DEF_SETTINGS = {
    "MPIFC": "mpif90",
    "FMPI_LIB": "",
    "FMPI_INC": "",
    "MPICC": "mpicc",
    "CMPI_LIB": "",
    "CMPI_INC": "",
}
ASSIGNMENT = re.compile(r"^(?P<name>[A-Z_]+)(?P<sp>\s*)=")


@dataclass(frozen=True)
class NpbTarball:
    """A verified NPB 3.4 tarball: where it is, what it holds."""

    path: Path
    name: str  # the file name, as it goes into the build context
    sha256: str
    version: str  # 3.4.2
    top: str  # NPB3.4.2 (the tarball's top directory)
    make_def_template: str
    suite_def_template: str


@dataclass(frozen=True)
class NpbBuild:
    """What the APP's NPB stage builds: the tarball, the chosen benchmarks × classes, the config files."""

    tarball: NpbTarball
    benchmarks: tuple[str, ...]
    classes: tuple[str, ...]

    @property
    def binaries(self) -> list[str]:
        return [f"{b}.{c}.x" for b in self.benchmarks for c in self.classes]

    @property
    def make_def(self) -> str:
        return make_def(self.tarball.make_def_template)

    @property
    def suite_def(self) -> str:
        return suite_def(self.benchmarks, self.classes)

    def context_files(self) -> dict[str, tuple[bytes, int]]:
        """The build context's `npb/` entries: the tarball as given, make.def and suite.def."""
        return {
            f"npb/{self.tarball.name}": (self.tarball.path.read_bytes(), 0o644),
            "npb/make.def": (self.make_def.encode(), 0o644),
            "npb/suite.def": (self.suite_def.encode(), 0o644),
        }


def choices(benchmarks: list[str], classes: list[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The chosen benchmarks and classes, checked and de-duplicated in NPB's order."""
    bench = [b.strip().lower() for item in benchmarks for b in item.split(",") if b.strip()]
    cls = [c.strip().upper() for item in classes for c in item.split(",") if c.strip()]
    bad_b = [b for b in bench if b not in BENCHMARKS]
    if bad_b or not bench:
        raise RecipeError(
            f"--npb-benchmarks {','.join(bad_b)[:40] or '(none)'}: choose from {', '.join(BENCHMARKS)}"
        )
    bad_c = [c for c in cls if c not in CLASSES]
    if bad_c or not cls:
        given = ",".join(bad_c)[:40] or "(none)"
        raise RecipeError(f"--npb-classes {given}: choose from {', '.join(CLASSES)}")
    return tuple(b for b in BENCHMARKS if b in bench), tuple(c for c in CLASSES if c in cls)


def check_sha256(text: str) -> str:
    value = text.strip().lower()
    if not SHA256.fullmatch(value):
        raise RecipeError(f"--npb-sha256 {text[:20]!r}: give the tarball's sha256 as 64 hex digits")
    return value


def obtain(spec: str, cache_dir: Callable[[], Path]) -> Path:
    """The tarball as a local file: the path itself, or an http(s) URL downloaded into the cache
    (made only then: a refused local file leaves nothing behind)."""
    if spec.startswith(("http://", "https://")):
        name = PurePosixPath(spec.split("?", 1)[0]).name or "npb.tar.gz"
        cache = cache_dir()
        target = cache / name
        with tempfile.TemporaryDirectory(dir=cache) as tmp:
            part = Path(tmp) / name
            download(spec, part, f"--npb-tarball {spec[:80]}")
            part.replace(target)
        return target
    path = Path(spec).expanduser()
    if not path.is_file():
        raise RecipeError(f"--npb-tarball {spec[:80]}: no such file")
    return path


def verify(path: Path, sha256: str) -> NpbTarball:
    """The tarball, checked: its sha256 against the given one, then its NPB 3.4 MPI layout."""
    want = check_sha256(sha256)
    got = sha256_of(path)
    if got != want:
        raise RecipeError(f"--npb-tarball {path.name}: sha256 is {got[:16]}…, --npb-sha256 says {want[:16]}…")
    try:
        with tarfile.open(path) as tar:
            members = tar.getmembers()
            top, version = _layout(path.name, [m.name for m in members])
            for m in members:
                rel = PurePosixPath(m.name)
                if rel.is_absolute() or ".." in rel.parts or m.islnk() or (m.issym() and _escapes(m)):
                    raise RecipeError(f"--npb-tarball {path.name}: member {m.name[:60]!r} points outside it")
            mpi = f"{top}/NPB3.4-MPI"
            make_tpl = _text(tar, f"{mpi}/config/make.def.template")
            suite_tpl = _text(tar, f"{mpi}/config/suite.def.template")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise RecipeError(f"--npb-tarball {path.name}: not a tar archive ({exc})") from exc
    missing = [name for name in ("MPIFC", "MPICC") if not _assigns(make_tpl, name)]
    if missing:
        raise RecipeError(
            f"--npb-tarball {path.name}: config/make.def.template sets no {', '.join(missing)} "
            "(not NPB 3.4 MPI)"
        )
    return NpbTarball(path, path.name, got, version, top, make_tpl, suite_tpl)


def _layout(name: str, members: list[str]) -> tuple[str, str]:
    tops = {(m.group("top"), m.group("version")) for n in members if (m := TOP.match(n.removeprefix("./")))}
    if len(tops) != 1:
        raise RecipeError(
            f"--npb-tarball {name}: not an NPB 3.4 tarball (no single NPB3.4*/NPB3.4-MPI/ directory)"
        )
    top, version = tops.pop()
    names = {n.removeprefix("./").rstrip("/") for n in members}
    absent = [f for f in REQUIRED if f"{top}/NPB3.4-MPI/{f}" not in names]
    if absent:
        raise RecipeError(f"--npb-tarball {name}: not an NPB 3.4 MPI tarball (lacks {', '.join(absent)})")
    return top, version


def _escapes(member: tarfile.TarInfo) -> bool:
    target = PurePosixPath(member.linkname)
    return target.is_absolute() or ".." in target.parts


def _text(tar: tarfile.TarFile, name: str) -> str:
    member = next((m for m in tar.getmembers() if m.name.removeprefix("./") == name), None)
    handle = tar.extractfile(member) if member is not None and member.isfile() else None
    if handle is None:
        raise RecipeError(f"--npb-tarball: {name} is not a file")
    return handle.read().decode("utf-8", errors="replace")


def _assigns(text: str, name: str) -> bool:
    return any((m := ASSIGNMENT.match(line)) and m.group("name") == name for line in text.splitlines())


def make_def(template: str) -> str:
    """config/make.def from NPB's make.def.template: the MPI settings replaced, everything else kept."""
    out = [
        "# config/make.def written by recapp from NPB's config/make.def.template (README.install):",
        "# MPIFC/MPICC are the APP's Open MPI wrappers, which carry the MPI include and library flags.",
    ]
    for line in template.splitlines():
        m = ASSIGNMENT.match(line)
        if m and m.group("name") in MAKE_DEF_SETTINGS:
            value = MAKE_DEF_SETTINGS[m.group("name")]
            out.append(f"{m.group('name')} = {value}".rstrip())
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def suite_def(benchmarks: tuple[str, ...], classes: tuple[str, ...]) -> str:
    """config/suite.def for `make suite`: one `<benchmark> <class>` line per binary."""
    lines = ["# config/suite.def written by recapp: the benchmarks and classes `make suite` builds"]
    lines += [f"{b} {c}" for b in benchmarks for c in classes]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class NpbRequest:
    """The user's choice on the command line: the tarball (path or URL), its sha256, what to build."""

    tarball: str
    sha256: str
    benchmarks: tuple[str, ...] = ("ep",)
    classes: tuple[str, ...] = ("S",)


def prepare(req: NpbRequest, cache_dir: Callable[[], Path]) -> NpbBuild:
    """Checks the choices and the sha256 format, then obtains and verifies the tarball."""
    benchmarks, classes = choices(list(req.benchmarks), list(req.classes))
    sha = check_sha256(req.sha256)
    return NpbBuild(verify(obtain(req.tarball, cache_dir), sha), benchmarks, classes)


def recipe_for(recipe: Recipe, build: NpbBuild) -> Recipe:
    """The nas APP recipe with the official NPB binaries instead of recapp's NPB-spec kernels.

    Both name their binaries as NPB does (ep.S.x), so recapp's kernels (`sources: nas`) are left out
    rather than shadowed; the MPI examples, the PMIx probe and the level probes stay."""
    if recipe.kind != "app" or recipe.workload != "nas" or recipe.flavor != "distro":
        raise RecipeError("--npb-tarball: only for `recapp build app --workload nas` (distro flavor)")
    ours = {name for name in recipe.expect.executables if name.endswith(".x")}
    return recipe.model_copy(
        update={
            "name": f"{recipe.name}-npb",
            "template": NPB_TEMPLATE,
            "summary": (
                f"Open MPI library and PMIx client (no runtime, no launcher, no sshd) with the official NAS "
                f"Parallel Benchmarks {build.tarball.version} (MPI: {', '.join(build.binaries)}), "
                "the MPI examples and the PMIx probe"
            ),
            "sources": [s for s in recipe.sources if s != "nas"],
            "expect": recipe.expect.model_copy(
                update={
                    "executables": [e for e in recipe.expect.executables if e not in ours] + build.binaries
                }
            ),
        }
    )


def default_tag(suite: str, build: NpbBuild) -> str:
    """`localhost/recapp/app-nas:trixie-npb3.4.2`: the suite and the NPB release."""
    return f"localhost/recapp/app-nas:{suite}-npb{build.tarball.version}"
