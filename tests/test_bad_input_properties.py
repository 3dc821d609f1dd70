"""Property-based bad input (hypothesis) for every validator that stands between a user and a made
thing: cluster specs, recipes, matrix records, level lists, names and image references. Whatever the
input, the outcome is a valid model or the room's own error in one line — never another exception,
never a hostile name accepted."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recapp.builder.recipe import load, parse
from recapp.conformance.matrix.levels import parse_levels
from recapp.errors import ClusterError, ConformanceError, RecappError, RecipeError, ReportError
from recapp.host.names import check_cluster_name, check_image_ref, cluster_name_problem, image_ref_problem
from recapp.k8s.spec import ClusterSpec, load_spec
from recapp.reports.records import read_matrix

pytestmark = pytest.mark.reliability

SHELL = set(";|&$`<>()\\\"' \t\n*?[]{}~!#")
ANY_TEXT = st.text(max_size=80)
SHELLISH = st.text(alphabet=string.ascii_letters + string.digits + "-./:@;|&$`()' *~\n", max_size=60)
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
SPEC_KEYS = list(ClusterSpec.model_fields)
# derandomize: CI sees the same examples every run (a new failure is a change, not luck).
FAST = settings(
    max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def _one_line(exc: RecappError) -> None:
    assert "\n" not in str(exc), repr(str(exc))


@FAST
@given(st.dictionaries(st.sampled_from(SPEC_KEYS) | st.text(max_size=10), JSONISH, max_size=8))
def test_any_spec_mapping_is_a_spec_or_one_cluster_error(data):
    try:
        spec = load_spec(data)
    except ClusterError as exc:
        _one_line(exc)
        assert str(exc).startswith("cluster spec: field '")
        return
    # Whatever passed is safe to turn into names, paths and argv.
    assert cluster_name_problem(spec.name) is None
    assert image_ref_problem(spec.rec_image) is None
    assert spec.uid > 0 and spec.namespace


@FAST
@given(name=SHELLISH, rec=SHELLISH)
def test_spec_names_and_images_never_carry_shell_or_path_characters(name, rec):
    try:
        spec = load_spec({"name": name, "nodes": 1, "rec_image": rec})
    except ClusterError as exc:
        _one_line(exc)
        return
    assert not (set(spec.name) | set(spec.rec_image)) & SHELL
    assert ".." not in spec.rec_image.split("/") and "/" not in spec.name


@FAST
@given(ANY_TEXT)
def test_name_checks_accept_exactly_the_safe_names(text):
    for check, problem in ((check_cluster_name, cluster_name_problem), (check_image_ref, image_ref_problem)):
        try:
            assert check(text) == text
        except RecappError as exc:
            _one_line(exc)
            assert problem(text) is not None
            continue
        assert problem(text) is None
        assert not set(text) & SHELL and not text.startswith("-") and text


@FAST
@given(JSONISH)
def test_any_recipe_data_is_a_recipe_or_one_recipe_error(data):
    try:
        parse(data, "fuzz.yaml")
    except RecipeError as exc:
        _one_line(exc)
        assert str(exc).startswith("recipe fuzz.yaml: field '")


@FAST
@given(ANY_TEXT)
def test_recipe_names_never_leave_the_recipes_folder(name):
    try:
        load(name)
    except RecipeError as exc:
        _one_line(exc)
        return
    assert "/" not in name and ".." not in name


@FAST
@given(st.one_of(ANY_TEXT, JSONISH.map(json.dumps), JSONISH.map(lambda d: yaml.safe_dump(d))))
def test_any_matrix_file_is_a_record_or_one_report_error(tmp_path_factory, text):
    path = Path(tmp_path_factory.mktemp("m")) / "matrix.json"
    path.write_text(text)
    with pytest.raises(ReportError) as info:
        read_matrix(path)
    _one_line(info.value)
    assert str(path) in str(info.value)


@FAST
@given(st.none() | ANY_TEXT)
def test_level_lists_parse_or_fail_in_one_line(text):
    try:
        levels = parse_levels(text)
    except (ConformanceError, RecappError) as exc:
        _one_line(exc)
        return
    assert levels and all(level.startswith("L") for level in levels)
