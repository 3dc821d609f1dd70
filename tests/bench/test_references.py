"""References per system (ReFrame-style value, relative lower/upper, unit) and the check of a figure."""

from __future__ import annotations

import pytest

from recapp.bench import references
from recapp.errors import ConformanceError


def _write(tmp_path, text: str):
    path = tmp_path / "sys.yaml"
    path.write_text(text)
    return path


def test_the_shipped_local_references_load():
    refs = references.load("local")
    assert refs.system == "local"
    ratio = refs.get("ep.A", "ratio:npb_time_s")
    assert (ratio.value, ratio.lower, ratio.upper, ratio.unit) == (1.0, None, 0.02, "")
    assert refs.get("ep.A", "no_such_figure") is None


def test_within_and_outside_the_bounds(tmp_path):
    refs = references.load(
        str(_write(tmp_path, "system: s\nworkloads:\n  ep.A:\n    npb_mops: [100, -0.1, 0.2, Mop/s]\n"))
    )
    ok = references.check(refs, "ep.A", "npb_mops", 91.0, "Mop/s")
    assert ok.passed and ok.reason is None and (ok.reference, ok.lower, ok.upper) == (100.0, -0.1, 0.2)
    low = references.check(refs, "ep.A", "npb_mops", 89.5, "Mop/s")
    assert not low.passed
    assert low.reason == "npb_mops = 89.5 Mop/s is below 90 (reference 100, lower bound -10%)"
    high = references.check(refs, "ep.A", "npb_mops", 120.5, "Mop/s")
    assert not high.passed and "is above 120 (reference 100, upper bound +20%)" in high.reason
    assert references.check(refs, "ep.A", "npb_time_s", 1.0, "s") is None  # no reference: not checked


def test_unit_mismatch_fails(tmp_path):
    refs = references.load(
        str(_write(tmp_path, "system: s\nworkloads:\n  w:\n    lat: [2.0, null, 0.5, us]\n"))
    )
    check = references.check(refs, "w", "lat", 2.0, "s")
    assert not check.passed and check.reason == "lat measured in s, the reference is in us"


def test_mapping_form_and_unbounded(tmp_path):
    text = "system: s\nworkloads:\n  w:\n    t: {value: 1.0, upper: 0.02, unit: ''}\n"
    refs = references.load(str(_write(tmp_path, text)))
    assert references.check(refs, "w", "t", 0.2, "").passed  # no lower bound
    assert not references.check(refs, "w", "t", 1.03, "").passed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("system: s\nworkloads:\n  w:\n    t: [1, 0.1, null, s]\n", "lower bound 0.1 is above the value"),
        ("system: s\nworkloads:\n  w:\n    t: [1, null, -0.1, s]\n", "upper bound -0.1 is below the value"),
        ("system: s\nworkloads:\n  w:\n    t: [1, null, s]\n", "expected [value, lower, upper, unit], got 3"),
        ("system: s\nworkload:\n  w: {}\n", "workload"),
        ("- just a list\n", "expected a mapping"),
        ("system: [\n", "not readable YAML"),
    ],
)
def test_bad_files_fail_in_one_line_naming_the_file(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ConformanceError) as err:
        references.load(str(path))
    assert str(path) in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


def test_unknown_system_names_the_known_ones():
    with pytest.raises(ConformanceError, match=r"no system 'mars' \(known: .*local"):
        references.load("mars")
