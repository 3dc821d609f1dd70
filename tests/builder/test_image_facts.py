"""The conformance suite's pure extractors (conformance/images/facts.py) on output captured from the real
images (`podman run --rm … localhost/recapp/{rec,app-mpi}:SUITE …`, files in captured/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from recapp.conformance.images import facts

CAPTURED = Path(__file__).resolve().parent / "captured"


def captured(name: str) -> str:
    return (CAPTURED / name).read_text()


@pytest.mark.parametrize(("suite", "version"), [("trixie", "5.0.7a1"), ("sid", "7.0.0rc1")])
def test_pmix_info_version(suite: str, version: str) -> None:
    # trixie prints `PMIX: 5.0.7a1`, sid `PMIx: 7.0.0rc1`; the `PMIX repo revision:` lines must not match.
    assert facts.pmix_info_version(captured(f"rec-{suite}.pmix_info.txt")) == version


def test_pmix_info_version_absent() -> None:
    assert facts.pmix_info_version("pmix_info: error while loading shared libraries\n") is None
    assert facts.pmix_info_version("      PMIX repo revision: 2025-03-21\n") is None


@pytest.mark.parametrize(("suite", "version"), [("trixie", "3.0.8"), ("sid", "5.0.0rc1")])
def test_prrte_version(suite: str, version: str) -> None:
    assert facts.prrte_version(captured(f"rec-{suite}.prterun-version.txt")) == version


def test_prrte_version_absent() -> None:
    assert facts.prrte_version("mpirun (Open MPI) 4.1.4\n") is None


@pytest.mark.parametrize(
    ("reported", "label"),
    [("5.0.7a1", "5.0.7"), ("7.0.0rc1", "7.0.0~rc1"), ("5.0.0rc1", "5.0.0rc1"), ("4.2.2rc2", "4.2.2")],
)
def test_numeric_core_makes_reported_and_labelled_versions_comparable(reported: str, label: str) -> None:
    assert facts.numeric_core(reported) == facts.numeric_core(label) != ""


def test_numeric_core_tells_releases_apart() -> None:
    assert facts.numeric_core("5.0.7") != facts.numeric_core("5.0.8")
    assert facts.numeric_core("not a version") == ""


@pytest.mark.parametrize(
    ("suite", "path"),
    [("trixie", "/lib/x86_64-linux-gnu/libpmix.so.2"), ("sid", "/usr/lib/x86_64-linux-gnu/libpmix.so.2")],
)
def test_ldd_resolves_libpmix_from_libmpi(suite: str, path: str) -> None:
    out = captured(f"app-{suite}.ldd-libmpi.txt")
    assert facts.ldd_resolves(out, "libpmix.so") == path
    assert facts.ldd_missing(out) == []


def test_open_mpi_4_libmpi_does_not_link_libpmix_its_component_does() -> None:
    assert facts.ldd_resolves(captured("app-bookworm.ldd-libmpi.txt"), "libpmix.so") is None
    component = captured("app-bookworm.ldd-mca_pmix_ext3x.txt")
    assert facts.ldd_resolves(component, "libpmix.so") == "/lib/x86_64-linux-gnu/libpmix.so.2"


def test_ldd_missing_and_unresolved() -> None:
    out = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tlibpmix.so.2 => not found\n"
        "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n"
    )
    assert facts.ldd_missing(out) == ["libpmix.so.2"]
    assert facts.ldd_resolves(out, "libpmix.so") is None
    assert facts.ldd_resolves(out, "libc.so") == "/lib/x86_64-linux-gnu/libc.so.6"


@pytest.mark.parametrize(
    ("suite", "pmix", "prrte"),
    [
        ("bookworm", "/usr/lib/x86_64-linux-gnu/pmix2", None),
        ("trixie", "external", None),
        ("sid", "/usr/lib/x86_64-linux-gnu/pmix2", "/usr"),
    ],
)
def test_configure_line(suite: str, pmix: str, prrte: str | None) -> None:
    cli = captured(f"app-{suite}.ompi-config.txt")
    assert facts.configure_pmix(cli) == pmix
    assert facts.configure_prrte(cli) == prrte


@pytest.mark.parametrize(
    ("cli", "pmix", "prrte"),
    [
        ("'--with-pmix' '--without-prrte'", "yes", "no"),
        ("'--with-pmix=internal' '--with-prrte=no'", "internal", "no"),
        ("'--disable-prrte'", None, "no"),
        ("'--prefix=/usr'", None, None),
    ],
)
def test_configure_line_variants(cli: str, pmix: str | None, prrte: str | None) -> None:
    assert facts.configure_pmix(cli) == pmix
    assert facts.configure_prrte(cli) == prrte


@pytest.mark.parametrize(
    ("suite", "version"), [("bookworm", "4.2.2rc2"), ("trixie", "5.0.7a1"), ("sid", "7.0.0rc1")]
)
def test_pmix_probe_client_version_without_a_server(suite: str, version: str) -> None:
    out = captured(f"app-{suite}.pmix_probe.txt")
    assert "status=FAIL" in out  # no server: PMIx_Init fails, the client version is still reported
    assert facts.pmix_probe_client_version(out) == version


def test_ompi_singleton_needs_orted() -> None:
    assert facts.ompi_singleton_needs_orted(captured("app-bookworm.hello.txt"))
    assert not facts.ompi_singleton_needs_orted(captured("app-trixie.hello.txt"))


@pytest.mark.parametrize(
    ("user", "root"),
    [
        ("", True),
        ("root", True),
        ("0", True),
        ("0:0", True),
        ("998:995", False),
        ("rec", False),
        ("1000", False),
    ],
)
def test_is_root_user(user: str, root: bool) -> None:
    assert facts.is_root_user(user) is root


def test_launchers_and_daemons_listed() -> None:
    assert {"mpirun", "mpiexec", "prterun", "prted", "orted"} <= set(facts.LAUNCHERS)
    assert facts.SSH_DAEMONS == ("sshd",)
