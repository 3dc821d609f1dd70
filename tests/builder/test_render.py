"""Rendering is pure: golden Containerfiles per recipe and suite, and a digest that moves with the input.

`RECAPP_UPDATE_GOLDEN=1 pytest tests/builder/test_render.py` rewrites the golden files; read the diff.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from recapp import workloads
from recapp.builder import render as render_module
from recapp.builder import source
from recapp.builder.recipe import available, load
from recapp.builder.render import CONTAINERFILE, BuildContext, render
from recapp.errors import RecipeError
from recapp.node import install as node_install
from recapp.recipes import RECIPES_DIR

ROOT = Path(__file__).resolve().parents[2]

GOLDEN = Path(__file__).resolve().parent / "golden"
FAKE_ID = "0123456789abcdef" * 4


def fake_base(suite: str) -> str:
    return f"localhost/recapp/base:{suite}"


def golden_cases() -> list[tuple[str, str]]:
    return [(name, suite) for name in available() for suite in load(name).suites]


def test_golden_cases_cover_every_recipe_and_suite() -> None:
    cases = golden_cases()
    assert {("app-mpi", s) for s in ("bookworm", "trixie", "sid")} | {
        ("rec", "trixie"),
        ("rec", "sid"),
    } <= set(cases)
    assert ("rec", "bookworm") not in cases, "bookworm ships no PRRTE: no REC golden file"
    expected = {f"{name}-{suite}.Containerfile" for name, suite in cases}
    found = {p.name for p in GOLDEN.glob("*.Containerfile")}
    assert found == expected, (
        f"stale golden files: {sorted(found - expected)}; missing: {sorted(expected - found)} "
        "(RECAPP_UPDATE_GOLDEN=1 writes them; review the diff)"
    )


def render_default(name: str, suite: str) -> BuildContext:
    """Render a recipe; a source recipe with its default releases and stand-in archive bytes."""
    recipe = load(name)
    if recipe.flavor != "source":
        return render(recipe, suite, fake_base(suite), FAKE_ID)
    components = source.stack(recipe, {})
    archives = {c.archive: f"archive {c.archive}".encode() for c in components}
    return render(recipe, suite, fake_base(suite), FAKE_ID, components, archives)


@pytest.mark.parametrize(("name", "suite"), golden_cases())
def test_containerfile_matches_golden(name: str, suite: str) -> None:
    text = render_default(name, suite).containerfile
    path = GOLDEN / f"{name}-{suite}.Containerfile"
    if os.environ.get("RECAPP_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.is_file(), f"{path} missing: run with RECAPP_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(), f"{name} for {suite} renders differently from {path.name}"


@pytest.mark.parametrize("suite", ["bookworm", "trixie"])
def test_source_rec_keeps_its_components_on_the_final_path(suite: str) -> None:
    # The REC's own `ENV PATH` (app-programs, issue 19) once came after the components' and dropped
    # /opt/prrte/bin: the built source REC had no prterun ("executable file not found in $PATH").
    recipe = load("rec-source")
    text = render_default("rec-source", suite).containerfile
    final = [ln for ln in text.splitlines() if ln.startswith("ENV PATH=")][-1]
    path = final.split()[1].removeprefix("PATH=").split(":")
    for c in source.stack(recipe, {}):
        assert f"{c.prefix}/bin" in path, f"{c.name}: {c.prefix}/bin not on the final PATH {path}"
    assert path[-1].endswith("/.local/share/recapp/app-programs")


def test_rec_containerfile_essentials() -> None:
    text = render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID).containerfile
    assert text.startswith("# Rendered by recapp from recipe rec for trixie")
    assert "FROM localhost/recapp/base:trixie\n" in text
    assert "openmpi-bin libpmix-bin" in text
    assert "setcap cap_setuid+ep /usr/bin/newuidmap" in text
    assert 'echo "rec:100000:65536" > /etc/subuid' in text
    assert "USER 998:995\n" in text
    # No VOLUME: an image-declared volume leaves an anonymous volume behind every plain `podman run`;
    # the inner storage comes from the pod spec (a PVC or a named volume).
    assert "VOLUME" not in text
    assert "RUN apt-get update" not in text and "&& apt-get update" not in text, (
        "packages must come from the base image's archive snapshot"
    )
    assert "{{" not in text and "{%" not in text


def test_app_containerfile_runtime_stage_has_no_launcher() -> None:
    text = render(load("app-mpi"), "sid", fake_base("sid"), FAKE_ID).containerfile
    build, runtime = text.split("\n# The runtime stage", 1)
    assert "openmpi-bin" in build
    assert "openmpi-bin" not in runtime
    assert "libopenmpi40 libpmix2t64" in runtime
    assert "for x in mpirun mpiexec orterun orted prterun prted prte prun sshd; do" in runtime
    assert runtime.rstrip().endswith("WORKDIR /home/app")


def test_context_files_and_modes() -> None:
    ctx = render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID)
    assert sorted(ctx.files) == [
        ".recapp-context.json",
        CONTAINERFILE,
        "files/rec/containers.conf",
        "files/rec/infopad.c",
        "files/rec/killguard.c",
        "files/rec/storage.conf",
        "files/rec/wrap-container",
        *sorted(f"node/{rel}" for rel in node_install.tree()),
    ]
    # The node package as recapp.node.install lays it out: sources byte for byte, entry points executable.
    assert "node/bin/recapp-agent" in ctx.files
    assert ctx.files["node/bin/recapp-agent"][1] == 0o755
    protocol_py = "node/lib/recapp/python/recapp/node/protocol.py"
    assert ctx.files[protocol_py] == ((ROOT / "node" / "protocol.py").read_bytes(), 0o644)
    assert ctx.files["files/rec/wrap-container"][1] == 0o755
    assert ctx.files["files/rec/storage.conf"][1] == 0o644
    assert ctx.files["files/rec/storage.conf"][0] == (RECIPES_DIR / "files/rec/storage.conf").read_bytes()
    meta = json.loads(ctx.files[".recapp-context.json"][0])
    assert meta == {"base_id": FAKE_ID, "base_ref": fake_base("trixie"), "recipe": "rec", "suite": "trixie"}


def test_app_context_carries_the_sources() -> None:
    ctx = render(load("app-mpi"), "trixie", fake_base("trixie"), FAKE_ID)
    assert "src/mpi/hello.c" in ctx.files
    assert "src/pmix_probe/pmix_probe.c" in ctx.files
    assert not [rel for rel in ctx.files if rel.endswith((".o", ".pyc"))]


def test_render_twice_is_byte_identical() -> None:
    first = render(load("rec"), "sid", fake_base("sid"), FAKE_ID)
    second = render(load("rec"), "sid", fake_base("sid"), FAKE_ID)
    assert first.files == second.files
    assert first.digest == second.digest
    assert len(first.digest) == 64


def test_digest_covers_content_path_and_mode() -> None:
    ctx = render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID)
    rel = "files/rec/containers.conf"
    content, mode = ctx.files[rel]
    flipped = bytes([content[0] ^ 0x01]) + content[1:]
    variants = [
        {**ctx.files, rel: (flipped, mode)},
        {**ctx.files, rel: (content, 0o755)},
        {**{k: v for k, v in ctx.files.items() if k != rel}, rel + ".renamed": (content, mode)},
    ]
    digests = {dataclasses.replace(ctx, files=files).digest for files in variants}
    assert len(digests) == 3
    assert ctx.digest not in digests


def test_different_base_id_changes_the_digest() -> None:
    one = render(load("app-mpi"), "trixie", fake_base("trixie"), FAKE_ID)
    two = render(load("app-mpi"), "trixie", fake_base("trixie"), "f" * 64)
    assert one.containerfile == two.containerfile
    assert one.digest != two.digest


def test_suites_render_different_contexts() -> None:
    digests = {
        render(load("app-mpi"), s, fake_base(s), FAKE_ID).digest for s in ("bookworm", "trixie", "sid")
    }
    assert len(digests) == 3


@pytest.fixture
def recipes_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of recipes/ that render() reads from, so files can be changed without touching the tree."""
    copy = tmp_path / "recipes"
    shutil.copytree(RECIPES_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(render_module, "RECIPES_DIR", copy)
    return copy


def test_copy_renders_like_the_tree(recipes_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_copy = render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID)
    monkeypatch.setattr(render_module, "RECIPES_DIR", RECIPES_DIR)
    from_tree = render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID)
    assert from_copy.digest == from_tree.digest


def test_one_byte_of_one_file_changes_the_digest(recipes_copy: Path) -> None:
    before = render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID)
    path = recipes_copy / "files/rec/wrap-container"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    after = render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID)
    assert after.containerfile == before.containerfile
    assert after.digest != before.digest


def test_executable_bit_changes_the_digest(recipes_copy: Path) -> None:
    before = render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID)
    path = recipes_copy / "files/rec/wrap-container"
    path.chmod(path.stat().st_mode & ~(stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    after = render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID)
    assert after.files["files/rec/wrap-container"][1] == 0o644
    assert after.digest != before.digest


@pytest.fixture
def sources_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of every workload's src/ that render() reads from (workloads/<name>/src → copy/<name>)."""
    copy = tmp_path / "sources"
    for name in workloads.with_sources():
        shutil.copytree(workloads.source_dir(name), copy / name)
    monkeypatch.setattr(render_module, "source_dir", lambda name: copy / name)
    return copy


def test_sources_come_from_the_workload_folders_under_src(sources_copy: Path) -> None:
    ctx = render(load("app-mpi"), "trixie", fake_base("trixie"), FAKE_ID)
    hello = workloads.source_dir("mpi") / "hello.c"
    assert ctx.files["src/mpi/hello.c"] == (hello.read_bytes(), 0o644)
    assert sorted({rel.split("/")[1] for rel in ctx.files if rel.startswith("src/")}) == [
        "mpi",
        "mpi_levels",
        "pmix_probe",
    ]
    (sources_copy / "mpi/hello.c").write_text("changed\n")
    assert render(load("app-mpi"), "trixie", fake_base("trixie"), FAKE_ID).digest != ctx.digest


def test_build_outputs_are_not_part_of_the_context(sources_copy: Path) -> None:
    before = render(load("app-mpi"), "trixie", fake_base("trixie"), FAKE_ID)
    (sources_copy / "mpi/hello.o").write_bytes(b"\x7fELF object")
    (sources_copy / "mpi/__pycache__").mkdir()
    (sources_copy / "mpi/__pycache__/x.cpython-311.pyc").write_bytes(b"\0")
    after = render(load("app-mpi"), "trixie", fake_base("trixie"), FAKE_ID)
    assert after.digest == before.digest


def test_template_error_is_a_recipe_error(recipes_copy: Path) -> None:
    template = recipes_copy / "templates/rec.Containerfile.j2"
    template.write_text(template.read_text() + "{{ no_such_variable }}\n")
    with pytest.raises(RecipeError, match=r"^recipe rec: template rec.Containerfile.j2: 'no_such_variable'"):
        render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID)


def test_unsupported_suite_is_refused_before_rendering() -> None:
    with pytest.raises(RecipeError, match="suite bookworm is not supported: Debian bookworm ships no PRRTE"):
        render(load("rec"), "bookworm", fake_base("bookworm"), FAKE_ID)


def test_write_lays_out_the_context(tmp_path: Path) -> None:
    ctx = render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID)
    stale = tmp_path / f"rec-trixie-{ctx.digest[:12]}"
    stale.mkdir()
    (stale / "leftover").write_text("from an interrupted run")
    out = ctx.write(tmp_path)
    assert out == stale
    assert not (out / "leftover").exists()
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == set(ctx.files)
    assert (out / CONTAINERFILE).read_text() == ctx.containerfile
    assert stat.S_IMODE((out / "node/bin/recapp-agent").stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "files/rec/containers.conf").stat().st_mode) == 0o644


def test_context_is_immutable() -> None:
    ctx = render(load("rec"), "trixie", fake_base("trixie"), FAKE_ID)
    assert isinstance(ctx, BuildContext)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.suite = "sid"  # type: ignore[misc]


def build_stage(text: str) -> list[str]:
    """The lines of the `FROM … AS build` stage, up to the blank line that ends it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith(" AS build"))
    return lines[start : lines.index("", start)]


def test_aio_build_stage_is_the_app_build_stage_line_for_line() -> None:
    # aio.Containerfile.j2 repeats the APP's build stage (the APP template's blocks cannot be
    # included); identical lines let buildah reuse an app-gromacs build's layers for the aio image.
    app = build_stage(render(load("app-gromacs"), "trixie", fake_base("trixie"), FAKE_ID).containerfile)
    aio = build_stage(render(load("aio"), "trixie", fake_base("trixie"), FAKE_ID).containerfile)
    sources = [line for line in app if line.startswith(("COPY src/", "RUN make -C"))]
    # FROM, ENV, apt-get, then mpi, pmix_probe, gromacs (aio adds nas); then the ompi_info record
    # and the distribution's MCA defaults, the same lines in both.
    tail = next(i for i, line in enumerate(app) if line.startswith("# The APP has no ompi_info"))
    assert aio[:tail] == app[:tail]
    assert aio[-(len(app) - tail) :] == app[tail:]
    assert any("> /out/etc/openmpi/openmpi-mca-params.conf" in line for line in app[tail:])
    assert len(sources) == 6 and "COPY src/nas /build/nas" in aio and "COPY src/hpcc /build/hpcc" in aio


def test_aio_final_stage_is_a_rec_with_the_applications() -> None:
    text = render(load("aio"), "trixie", fake_base("trixie"), FAKE_ID).containerfile
    final = text.split("\nFROM localhost/recapp/base:trixie\n", 1)[1]
    [install] = [line for line in final.splitlines() if line.startswith("RUN apt-get install")]
    packages = install.split("--no-install-recommends ", 1)[1].split()
    assert {"openmpi-bin", "libpmix-bin", "gromacs", "catatonit"} <= set(packages)
    assert "podman" not in packages and "runc" not in packages  # nothing runs nested
    assert 'CMD ["recapp-agent", "serve"' in final
    assert final.rstrip().endswith("COPY --from=build /out/usr/local/ /usr/local/")
