"""Source flavor, pure parts: pinned releases, stacks, configure facts, tags, step timings, .dsc
checksums, and the rendered stages (shared PMIx stage, the talk's configure lines)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recapp.builder import fetch, source
from recapp.builder.build import default_tag, source_stack, step_seconds, step_status
from recapp.builder.recipe import load, recipe_name
from recapp.builder.render import render
from recapp.builder.suites import SUITES
from recapp.errors import RecipeError

CAPTURED = Path(__file__).resolve().parent / "captured"
FAKE_ID = "0123456789abcdef" * 4


def test_catalog_pins_every_release_in_some_origin() -> None:
    cat = source.catalog()
    assert set(cat.components) == {"pmix", "prrte", "ompi"}
    for name, comp in cat.components.items():
        assert comp.releases, f"{name}: no release pinned"
        for version, release in comp.releases.items():
            assert release.debian or release.upstream, f"{name} {version}: no source pinned"
            if release.debian:
                assert release.debian.suite in SUITES
                assert release.debian.srcdir.split("/")[0] in release.debian.file.replace("_", "-"), (
                    f"{name} {version}: srcdir {release.debian.srcdir} is not inside {release.debian.file}"
                )
            if release.upstream:
                assert release.upstream.url.endswith("/" + release.upstream.file)
                assert release.upstream.file.startswith(release.upstream.srcdir + ".tar.")
    # What the defaults build comes from Debian: this machine reaches no upstream site.
    for recipe in ("rec-source", "app-mpi-source"):
        assert {c.origin for c in source.stack(load(recipe), {})} == {"debian"}


def test_release_pinned_in_one_origin_comes_from_it() -> None:
    """PRRTE 3.0.0 (the one PRRTE 3 that takes PMIx 4.2.2) is in no Debian source package: with
    the default `--sources debian` it still comes from its upstream tarball, the PMIx from Debian."""
    rec = source.stack(load("rec-source"), {"pmix": "4.2.2", "prrte": "3.0.0"})
    assert [(c.name, c.origin, c.archive) for c in rec] == [
        ("pmix", "debian", "pmix_4.2.2.orig.tar.xz"),
        ("prrte", "upstream", "prrte-3.0.0.tar.bz2"),
    ]
    assert rec[1].url == "https://github.com/openpmix/prrte/releases/download/v3.0.0/prrte-3.0.0.tar.bz2"
    assert rec[1].debian is None and rec[0].url is None
    up = source.stack(load("rec-source"), {"pmix": "4.2.2", "prrte": "3.0.0"}, origin="upstream")
    assert [c.archive for c in up] == ["pmix-4.2.2.tar.bz2", "prrte-3.0.0.tar.bz2"]
    # Open MPI 5.0.7 has no upstream pin: upstream falls back to Debian's tarball.
    app = source.stack(load("app-mpi-source"), {}, origin="upstream")
    assert [(c.name, c.origin) for c in app] == [("pmix", "upstream"), ("ompi", "debian")]


def test_default_stacks_in_build_order() -> None:
    rec = source.stack(load("rec-source"), {})
    assert [(c.name, c.version) for c in rec] == [("pmix", "5.0.5"), ("prrte", "3.0.8")]
    assert rec[1].needs == (rec[0],)
    assert rec[1].srcdir == "openmpi-5.0.7/3rd-party/prrte"
    app = source.stack(load("app-mpi-source"), {})
    assert [(c.name, c.version) for c in app] == [("pmix", "5.0.5"), ("ompi", "5.0.7")]
    assert app[0] == rec[0], "the REC and the APP build the same PMIx component"
    assert [c.stage for c in app] == ["pmix-5_0_5", "ompi-5_0_7"]


def test_override_and_refusals() -> None:
    rec = source.stack(load("rec-source"), {"pmix": "4.2.2"})
    assert rec[0].archive == "pmix_4.2.2.orig.tar.xz" and rec[0].srcdir == "pmix-4.2.2"
    with pytest.raises(
        RecipeError, match=r"^--pmix 9\.9: not a pinned OpenPMIx release \(pinned: 4\.2\.2, 5\.0\.5"
    ):
        source.stack(load("rec-source"), {"pmix": "9.9"})
    with pytest.raises(RecipeError, match=r"^--ompi 5\.0\.7: recipe rec-source builds no ompi"):
        source.stack(load("rec-source"), {"ompi": "5.0.7"})


def test_facts_from_the_talks_configure_lines() -> None:
    facts = source.facts(source.stack(load("app-mpi-source"), {}))
    assert facts["ompi.prrte"] == "no"
    assert facts["ompi.pmix"] == "external"
    assert facts["ompi.hwloc"] == facts["ompi.libevent"] == "external"
    ompi = next(c for c in source.stack(load("app-mpi-source"), {}) if c.name == "ompi")
    assert ompi.configure == (
        "--without-prrte",
        "--with-pmix=/opt/pmix",
        "--with-hwloc",
        "--with-libevent",
        "--disable-oshmem",
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--with-pmix=/opt/pmix",), {"pmix": "/opt/pmix"}),
        (("--without-prrte",), {"prrte": "no"}),
        (("--with-hwloc",), {"hwloc": "yes"}),
        (("--with-hwloc=/usr", "--with-hwloc=internal"), {"hwloc": "internal"}),
        (("--disable-oshmem", "--prefix=/x"), {}),
    ],
)
def test_configure_options(args: tuple[str, ...], expected: dict[str, str]) -> None:
    assert source.configure_options(args) == expected


def test_user_configure_options() -> None:
    stack = source.stack(load("app-mpi-source"), {})
    out = source.with_configure(stack, {"ompi": ["--enable-debug"]})
    assert out[1].configure[-1] == "--enable-debug" and out[0] == stack[0]
    with pytest.raises(RecipeError, match=r"^--configure prrte:…: this build has no component 'prrte'"):
        source.with_configure(stack, {"prrte": ["--enable-debug"]})
    with pytest.raises(RecipeError, match="not a plain configure option"):
        source.with_configure(stack, {"ompi": ["--x=$(reboot)"]})


def test_tags_name_recipe_suite_and_releases() -> None:
    rec = source.stack(load("rec-source"), {})
    app = source.stack(load("app-mpi-source"), {})
    assert (
        default_tag("rec", "bookworm", None, rec)
        == "localhost/recapp/rec-source:bookworm-pmix5.0.5-prrte3.0.8"
    )
    assert (
        default_tag("app", "trixie", "mpi", app)
        == "localhost/recapp/app-mpi-source:trixie-pmix5.0.5-ompi5.0.7"
    )
    assert default_tag("rec", "trixie", None) == "localhost/recapp/rec:trixie", "distro tags unchanged"
    assert recipe_name("app", "mpi", "source") == "app-mpi-source"
    with pytest.raises(RecipeError, match="unknown flavor 'git'"):
        recipe_name("rec", None, "git")


def test_distro_flavor_refuses_source_options() -> None:
    with pytest.raises(RecipeError, match=r"^--pmix: only for --flavor source"):
        source_stack(load("rec"), {"pmix": "5.0.5"}, "debian", None)
    assert source_stack(load("rec"), {"pmix": None}, "debian", None) == []


def test_step_seconds_from_the_log() -> None:
    log = (
        "[recapp-step] pmix configure: start\nchecking...\n[recapp-step] pmix configure: exit 0 after 87 s\n"
        "[recapp-step] pmix make: exit 2 after 5 s\n"
        "[2/3] STEP 6/6: RUN ...\n[recapp-step] ompi make: exit 0 after 1204 s\n"
    )
    assert step_seconds(log) == {"pmix configure": 87.0, "ompi make": 1204.0}


def test_step_status_for_the_progress_line() -> None:
    assert step_status("[recapp-step] ompi make: start") == "ompi make: start"
    assert (
        step_status("[recapp-step] pmix configure: exit 0 after 87 s") == "pmix configure: exit 0 after 87 s"
    )
    assert step_status("checking for gcc... gcc") is None
    assert step_status("[1/4] STEP 6/6: RUN ... recapp-step pmix configure ./configure") is None


def test_dsc_checksum_of_the_real_openmpi_source_package() -> None:
    dsc = (CAPTURED / "openmpi_5.0.7-1.dsc").read_text()
    pinned = source.catalog().components["ompi"].releases["5.0.7"].debian
    assert pinned is not None
    assert fetch.dsc_sha256(dsc, pinned.file) == pinned.sha256
    assert fetch.dsc_sha256(dsc, "openmpi_5.0.7-1.debian.tar.xz") == (
        "df280ecfe201e52263bc43bf93f49ea65e3b3e667c13d9d6e6fd7c96fce120d0"
    )
    assert fetch.dsc_sha256(dsc, "nope.tar.xz") is None


def test_local_source_directory_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECAPP_HOME", str(tmp_path / "state"))
    pmix = source.stack(load("rec-source"), {"pmix": "4.2.2"})[0]
    (tmp_path / pmix.archive).write_bytes(b"not the pinned tarball")
    with pytest.raises(
        fetch.BuildError, match=r"pmix_4\.2\.2\.orig\.tar\.xz has sha256 .* is pinned to 4a534a8f87220c6f"
    ):
        fetch.archive(pmix, str(tmp_path))
    assert not (tmp_path / "state" / "sources" / pmix.archive).exists(), "a bad archive is not cached"
    with pytest.raises(fetch.BuildError, match="is not there"):
        fetch.archive(source.stack(load("rec-source"), {})[0], str(tmp_path))


def _stage(text: str, name: str) -> str:
    start = text.index(f" AS {name}\n")
    start = text.rindex("\nFROM ", 0, start)
    end = text.index("\n\n", start + 1)  # every component stage ends with a blank line
    return text[start:end]


def test_rec_and_app_share_the_pmix_stage_text() -> None:
    """Same suite, same PMIx: byte-identical stage, so the layer cache builds it once for both."""
    rec_stack = source.stack(load("rec-source"), {})
    app_stack = source.stack(load("app-mpi-source"), {})
    archives = {c.archive: b"x" for c in rec_stack + app_stack}
    base = "localhost/recapp/base:trixie"
    rec = render(load("rec-source"), "trixie", base, FAKE_ID, rec_stack, archives).containerfile
    app = render(load("app-mpi-source"), "trixie", base, FAKE_ID, app_stack, archives).containerfile
    assert _stage(rec, "pmix-5_0_5") == _stage(app, "pmix-5_0_5")
    assert "./configure --prefix=/opt/openmpi --without-prrte --with-pmix=/opt/pmix" in app
    assert "--disable-oshmem" in app
    assert "sha256sum -c --strict" in _stage(app, "ompi-5_0_7")
    assert "COPY files/rec/wrap-container" in rec, "the source REC carries the REC tooling"


def test_source_recipe_needs_its_components_and_archives() -> None:
    recipe = load("app-mpi-source")
    with pytest.raises(RecipeError, match="renders with its resolved components"):
        render(recipe, "trixie", "b", FAKE_ID)
    with pytest.raises(
        RecipeError, match=r"source archive\(s\) not supplied: openmpi_5\.0\.7\.orig\.tar\.xz"
    ):
        render(recipe, "trixie", "b", FAKE_ID, source.stack(recipe, {}), {})


def test_archive_bytes_move_the_digest() -> None:
    recipe = load("rec-source")
    stack = source.stack(recipe, {})
    one = render(recipe, "trixie", "b", FAKE_ID, stack, {stack[0].archive: b"one"})
    two = render(recipe, "trixie", "b", FAKE_ID, stack, {stack[0].archive: b"two"})
    assert one.digest != two.digest
