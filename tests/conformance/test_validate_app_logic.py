"""Version discovery and probe injection for users' own APP images (pure)."""

from __future__ import annotations

import pytest

from recapp.conformance.validate_app import (
    TOOLS,
    TOOLS_MOUNT,
    injected_levels,
    mpi_of,
    named,
    parse_discovery,
    unrunnable,
)


def test_dpkg_versions_win_over_strings():
    out = (
        "libopenmpi40 5.0.7-1\nlibpmix2t64 5.0.7-1\nLIB /usr/lib/x86_64-linux-gnu/libmpi.so.40\n"
        "STR Open MPI v5.0.7\n"
    )
    assert parse_discovery(out) == {"ompi": "5.0.7", "pmix": "5.0.7"}


def test_library_strings_when_there_is_no_dpkg():
    out = (
        "LIB /opt/ompi/lib/libmpi.so.40\nSTR Open MPI v5.0.3\n"
        "LIB /opt/pmix/lib/libpmix.so.2\nSTR OpenPMIx 5.0.2\n"
    )
    assert parse_discovery(out) == {"ompi": "5.0.3", "pmix": "5.0.2"}


def test_uninstalled_dpkg_rows_are_ignored():
    assert parse_discovery("libopenmpi3 \nlibpmix2 \n") == {}


def test_injected_levels_bind_the_tools_and_call_them_by_path():
    levels = injected_levels("/var/lib/recapp/images/native/abc/bin", ["L2", "L4"])
    assert [lv.name for lv in levels] == ["L2", "L4"]
    assert levels[0].commands == [[f"{TOOLS_MOUNT}/pmix_probe"]]
    assert levels[1].commands == [[f"{TOOLS_MOUNT}/collectives"], [f"{TOOLS_MOUNT}/ring", "10"]]
    assert levels[1].mounts == [f"/var/lib/recapp/images/native/abc/bin:{TOOLS_MOUNT}"]


# What DISCOVER_SCRIPT printed in app-mpich:trixie (recapp-built MPICH, no libmpich package) and in a
# user's image with Debian's MPICH packages; shapes as the script prints them.
MPICH_SOURCE_BUILT = (
    "libpmix2t64 5.0.7-1\n"
    "LIB /opt/mpich/lib/libmpi.so.12\nSTR MPICH 4.0.2\n"
    "LIB /usr/lib/x86_64-linux-gnu/libpmix.so.2\nSTR OpenPMIx 5.0.7\n"
)
MPICH_DEBIAN = (
    "libmpich-dev 4.3.0+really4.2.1-1\nlibmpich12 4.3.0+really4.2.1-1\nlibpmix2t64 5.0.7-1\n"
    "LIB /usr/lib/x86_64-linux-gnu/libmpich.so.12\nSTR MPICH 4.2.1\n"
)


def test_mpich_from_its_library_strings():
    assert parse_discovery(MPICH_SOURCE_BUILT) == {"mpich": "4.0.2", "pmix": "5.0.7"}


def test_mpich_from_dpkg_takes_a_reverted_version_for_what_it_really_is():
    # Debian's trixie mpich is 4.3.0+really4.2.1: upstream 4.3.0 taken back to 4.2.1.
    assert parse_discovery(MPICH_DEBIAN) == {"mpich": "4.2.1", "pmix": "5.0.7"}


def test_no_mpi_and_no_pmix_in_a_bare_image():
    assert parse_discovery("") == {}


@pytest.mark.parametrize(
    ("versions", "text"),
    [
        ({"ompi": "5.0.7", "pmix": "5.0.7"}, "Open MPI 5.0.7, PMIx client 5.0.7"),
        ({"mpich": "4.0.2", "pmix": "5.0.7"}, "MPICH 4.0.2, PMIx client 5.0.7"),
        ({"pmix": "4.2.2"}, "no MPI, PMIx client 4.2.2"),
        ({}, "no MPI, no PMIx client"),
    ],
)
def test_what_was_found_is_named(versions, text):
    assert named(versions) == text


def test_an_image_without_mpi_runs_only_the_pmix_levels():
    versions = {"pmix": "5.0.7"}
    assert [lv for lv in ("L1", "L2", "L3", "L4") if unrunnable(versions, lv) is None] == ["L1", "L2"]
    assert unrunnable(versions, "L3") == "no MPI library in the image: an MPI level has nothing to run"


def test_an_image_without_pmix_runs_nothing():
    reasons = {unrunnable({}, lv) for lv in ("L1", "L2", "L3", "L4")}
    assert reasons == {"no PMIx client library in the image: the REC's PMIx server has no client to talk to"}


def test_the_injected_programs_link_the_images_own_mpi():
    assert TOOLS[mpi_of({"mpich": "4.0.2", "pmix": "5.0.7"}) or "ompi"] == ("trixie", "mpich")
    assert TOOLS[mpi_of({"ompi": "4.1.4", "pmix": "4.2.2"}) or "ompi"] == ("bookworm", "mpi")
    assert mpi_of({"pmix": "5.0.7"}) is None
