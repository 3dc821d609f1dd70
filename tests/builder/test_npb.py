"""The official-NPB path of `recapp build app --workload nas` (recapp.builder.npb): refusals before any
build, config/make.def and config/suite.def as NPB's README.install has them, and the recipe render.

No official NPB tarball is reachable from this machine (NASA's site is not; Debian, PyPI and npm carry
none), so these tests use small tarballs *shaped* like NPB 3.4's layout (NPB3.4.x/NPB3.4-MPI/ with
config/make.def.template, config/suite.def.template, Makefile, README.install). They check recapp's
handling of a tarball; they are not NPB, and nothing here claims that ep.S.x verifies.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from recapp.builder import npb
from recapp.builder.recipe import load
from recapp.builder.render import render
from recapp.errors import RecipeError

FAKE_ID = "0123456789abcdef" * 4
# The settings an NPB 3.4 make.def.template carries for an MPI build (shape only: MPIFC, FMPI_LIB,
# FMPI_INC, MPICC, CMPI_LIB, CMPI_INC, the flags and BINDIR), with a comment line and a tab.
TEMPLATE = """\
#---------------------------------------------------------------------------
# This is the fortran compiler used for MPI programs
#---------------------------------------------------------------------------
MPIFC = mpif90
FMPI_LIB  = -L/usr/local/lib -lmpi
FMPI_INC = -I/usr/local/include
FFLAGS\t= -O3
FLINKFLAGS = $(FFLAGS)
MPICC = mpicc
CMPI_LIB  = -L/usr/local/lib -lmpi
CMPI_INC = -I/usr/local/include
CFLAGS\t= -O3
BINDIR\t= ../bin
RAND   = randi8
"""


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tarball(path: Path, files: dict[str, str], *, top: str = "NPB3.4.2") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}" if top else name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def npb_shaped(tmp_path: Path, **overrides: str) -> Path:
    files = {
        "NPB3.4-MPI/config/make.def.template": TEMPLATE,
        "NPB3.4-MPI/config/suite.def.template": "# benchmark class\nep S\n",
        "NPB3.4-MPI/Makefile": "suite:\n",
        "NPB3.4-MPI/README.install": "make suite\n",
        "NPB3.4-MPI/EP/ep.f90": "",
        "NPB3.4-OMP/README": "",
    }
    files.update(overrides)
    return tarball(tmp_path / "NPB3.4.2.tar.gz", files)


def test_a_wrong_sha256_is_refused_before_the_file_is_opened(tmp_path: Path) -> None:
    not_a_tar = tmp_path / "NPB3.4.2.tar.gz"
    not_a_tar.write_text("hello")
    with pytest.raises(
        RecipeError, match=r"sha256 is 2cf24dba5fb0a30e…, --npb-sha256 says 0000000000000000…"
    ):
        npb.verify(not_a_tar, "0" * 64)


@pytest.mark.parametrize("given", ["abc", "0" * 63, "g" * 64, ""])
def test_a_malformed_sha256_is_refused(tmp_path: Path, given: str) -> None:
    with pytest.raises(RecipeError, match="64 hex digits"):
        npb.verify(npb_shaped(tmp_path), given)


def test_a_file_that_is_not_a_tar_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "npb.tar.gz"
    path.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(RecipeError, match=r"npb\.tar\.gz: not a tar archive"):
        npb.verify(path, sha(path))


def test_a_tar_without_the_npb_layout_is_refused(tmp_path: Path) -> None:
    path = tarball(
        tmp_path / "other.tar.gz", {"src/main.c": "int main(void) { return 0; }\n"}, top="other-1.0"
    )
    with pytest.raises(
        RecipeError, match=r"not an NPB 3.4 tarball \(no single NPB3.4\*/NPB3.4-MPI/ directory\)"
    ):
        npb.verify(path, sha(path))


def test_a_tar_lacking_the_files_of_readme_install_is_refused(tmp_path: Path) -> None:
    path = tarball(tmp_path / "NPB3.4.2.tar.gz", {"NPB3.4-MPI/Makefile": "suite:\n"})
    with pytest.raises(RecipeError, match=r"lacks config/make.def.template, config/suite.def.template"):
        npb.verify(path, sha(path))


def test_a_template_without_mpi_compilers_is_refused(tmp_path: Path) -> None:
    path = npb_shaped(tmp_path, **{"NPB3.4-MPI/config/make.def.template": "FC = gfortran\n"})
    with pytest.raises(RecipeError, match="sets no MPIFC, MPICC"):
        npb.verify(path, sha(path))


def test_a_member_pointing_outside_is_refused(tmp_path: Path) -> None:
    path = npb_shaped(tmp_path, **{"NPB3.4-MPI/../../escape": "x"})
    with pytest.raises(RecipeError, match="points outside it"):
        npb.verify(path, sha(path))


def test_an_npb_shaped_tarball_is_read(tmp_path: Path) -> None:
    path = npb_shaped(tmp_path)
    got = npb.verify(path, sha(path).upper())
    assert (got.version, got.top, got.name, got.sha256) == ("3.4.2", "NPB3.4.2", "NPB3.4.2.tar.gz", sha(path))
    assert got.make_def_template == TEMPLATE


def test_make_def_sets_the_apps_wrappers_and_keeps_the_rest() -> None:
    out = npb.make_def(TEMPLATE).splitlines()
    body = [
        line for line in out if not line.startswith("# config/make.def") and "MPIFC/MPICC are" not in line
    ]
    expected = TEMPLATE.splitlines()
    replaced = {
        "MPIFC = mpif90": "MPIFC = mpif90",
        "FMPI_LIB  = -L/usr/local/lib -lmpi": "FMPI_LIB =",
        "FMPI_INC = -I/usr/local/include": "FMPI_INC =",
        "MPICC = mpicc": "MPICC = mpicc",
        "CMPI_LIB  = -L/usr/local/lib -lmpi": "CMPI_LIB =",
        "CMPI_INC = -I/usr/local/include": "CMPI_INC =",
    }
    assert body == [replaced.get(line, line) for line in expected]
    assert "FFLAGS\t= -O3" in body and "BINDIR\t= ../bin" in body and "RAND   = randi8" in body


def test_suite_def_lists_every_benchmark_and_class() -> None:
    assert npb.suite_def(("cg", "ep"), ("S", "A")).splitlines()[1:] == ["cg S", "cg A", "ep S", "ep A"]


def test_choices_are_checked_and_put_in_npb_order() -> None:
    assert npb.choices(["ep,CG", "ep"], ["a", "S"]) == (("cg", "ep"), ("S", "A"))
    with pytest.raises(RecipeError, match=r"--npb-benchmarks dt: choose from bt, cg, ep, ft, is, lu, mg, sp"):
        npb.choices(["dt"], ["S"])
    with pytest.raises(RecipeError, match=r"--npb-classes X: choose from S, W, A, B, C, D, E, F"):
        npb.choices(["ep"], ["x"])


def test_the_nas_recipe_with_npb_renders_npbs_own_build(tmp_path: Path) -> None:
    path = npb_shaped(tmp_path)
    build = npb.prepare(
        npb.NpbRequest(str(path), sha(path), ("ep", "cg"), ("S",)), lambda: tmp_path / "cache"
    )
    recipe = npb.recipe_for(load("app-nas"), build)
    assert recipe.name == "app-nas-npb" and "nas" not in recipe.sources
    assert recipe.expect.executables[-2:] == ["cg.S.x", "ep.S.x"]
    assert "is.A.x" not in recipe.expect.executables  # recapp's own kernels are left out, not shadowed
    ctx = render(recipe, "trixie", "localhost/recapp/base:trixie", FAKE_ID, npb=build)
    text = ctx.containerfile
    assert "FROM localhost/recapp/base:trixie AS npb" in text
    assert "gfortran" in text and "libgfortran5" in text
    assert "--strip-components=2 NPB3.4.2/NPB3.4-MPI" in text
    assert "COPY npb/make.def npb/suite.def /build/npb/config/" in text
    assert "RUN make -C /build/npb suite" in text
    assert "install -m 0755 cg.S.x ep.S.x /out/usr/local/bin/" in text
    assert "COPY --from=npb /out/usr/local/bin/ /usr/local/bin/" in text
    assert ctx.files["npb/NPB3.4.2.tar.gz"][0] == path.read_bytes()
    assert ctx.files["npb/suite.def"][0].decode().splitlines()[1:] == ["cg S", "ep S"]
    assert b"MPIFC = mpif90" in ctx.files["npb/make.def"][0]
    assert not any(name.startswith("src/nas/") for name in ctx.files)
    assert not (tmp_path / "cache").exists()  # a local tarball is not copied anywhere
    assert npb.default_tag("trixie", build) == "localhost/recapp/app-nas:trixie-npb3.4.2"


def test_npb_only_for_the_nas_app(tmp_path: Path) -> None:
    path = npb_shaped(tmp_path)
    build = npb.prepare(npb.NpbRequest(str(path), sha(path)), lambda: tmp_path)
    with pytest.raises(RecipeError, match=r"only for `recapp build app --workload nas`"):
        npb.recipe_for(load("app-mpi"), build)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong-sha", "--npb-tarball NPB3.4.2.tar.gz: sha256 is "),
        ("not-npb", "--npb-tarball other.tar.gz: not an NPB 3.4 tarball"),
        ("missing", "--npb-tarball "),
        ("no-sha", "--npb-tarball and --npb-sha256 go together"),
        ("other-workload", "--npb-tarball: only for `recapp build app --workload nas`"),
    ],
)
def test_cli_refuses_in_one_line_before_any_build(
    run_recapp, tmp_path: Path, case: str, expected: str
) -> None:
    good = npb_shaped(tmp_path)
    other = tarball(tmp_path / "other.tar.gz", {"a.c": ""}, top="other-1.0")
    args = {
        "wrong-sha": ["--workload", "nas", "--npb-tarball", str(good), "--npb-sha256", "0" * 64],
        "not-npb": ["--workload", "nas", "--npb-tarball", str(other), "--npb-sha256", sha(other)],
        "missing": [
            "--workload",
            "nas",
            "--npb-tarball",
            str(tmp_path / "absent.tgz"),
            "--npb-sha256",
            "0" * 64,
        ],
        "no-sha": ["--workload", "nas", "--npb-tarball", str(good)],
        "other-workload": ["--workload", "mpi", "--npb-tarball", str(good), "--npb-sha256", sha(good)],
    }[case]
    state = tmp_path / "state"
    result = run_recapp("build", "app", *args, env={"RECAPP_HOME": str(state)})
    assert result.returncode == 2
    assert result.error_line().startswith(expected)
    assert result.stdout == ""
    made = sorted(p.relative_to(state).as_posix() for p in state.rglob("*")) if state.exists() else []
    assert made == [], f"a refused build left state behind: {made}"
