"""Version discovery and probe injection for users' own APP images (pure)."""

from __future__ import annotations

from recapp.conformance.validate_app import TOOLS_MOUNT, injected_levels, parse_discovery


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
