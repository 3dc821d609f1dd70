"""ClusterSpec: defaults, limits, and one-line errors naming the field at fault."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from recapp.errors import ClusterError
from recapp.k8s.spec import ClusterSpec, load_spec

Make = Callable[..., ClusterSpec]


def test_defaults(spec: ClusterSpec) -> None:
    assert spec.namespace == "recapp-demo"
    assert (spec.slots_per_node, spec.uid, spec.gid) == (2, 998, 995)
    assert (spec.launcher, spec.storage, spec.agent_port, spec.ready_timeout_s) == (
        "agent",
        "volume",
        7450,
        300,
    )
    assert spec.resources is not None and spec.resources.limits is not None
    assert spec.resources.requests is not None
    assert spec.resources.requests.as_dict() == {"cpu": "250m", "memory": "256Mi"}
    assert spec.resources.limits.as_dict() == {"memory": "8Gi"}
    assert spec.shm_size == "1Gi"
    assert spec.user_namespace is None  # decided by the backend (detected)
    assert (spec.cert_lifetime_days, spec.network_policy_probe, spec.api_server_cidrs) == (30, "refuse", [])
    assert spec.seccomp_localhost_profile is None


def test_explicit_namespace_is_kept(make_spec: Make) -> None:
    assert make_spec(namespace="team-hpc").namespace == "team-hpc"


def test_forty_character_name_is_accepted(make_spec: Make) -> None:
    name = "a" * 40
    assert make_spec(name=name).name == name


@pytest.mark.parametrize(
    "name",
    [
        "demo; rm -rf /",
        "$(reboot)",
        "`id`",
        "demo|cat",
        "demo&&x",
        "../../etc",
        "demo/../x",
        "Demo",
        "DEMO",
        "a" * 41,
        "-demo",
        "demo-",
        "1demo",  # Service names are DNS-1035: they start with a letter
        "de_mo",
        "de.mo",
        "demo\n",
        "",
        "démo",
    ],
)
def test_hostile_names_are_rejected_on_one_line(make_spec: Make, name: str) -> None:
    with pytest.raises(ClusterError) as info:
        make_spec(name=name)
    message = str(info.value)
    assert message.startswith("cluster spec: field 'name': ")
    assert "\n" not in message


def test_error_shows_the_value_quoted(make_spec: Make) -> None:
    with pytest.raises(ClusterError, match=r"field 'name': must be a DNS-1035 label.*\(got 'Demo'\)"):
        make_spec(name="Demo")


def test_too_long_name_says_the_limit(make_spec: Make) -> None:
    with pytest.raises(ClusterError, match=r"field 'name': must be at most 40 characters \(got 41\)"):
        make_spec(name="a" * 41)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("namespace", "Bad_NS"),
        ("namespace", "../kube-system"),
        ("namespace", "n" * 64),
        ("rec_image", "rec:latest; curl x|sh"),
        ("rec_image", "rec image"),
        ("rec_image", "$(id)"),
        ("storage_size", "10 GB"),
        ("storage_class", "Fast SSD"),
        ("seccomp_localhost_profile", "../../etc/shadow"),
        ("seccomp_localhost_profile", "/abs/profile.json"),
        ("apparmor_localhost_profile", "x;y"),
        ("fuse_device_resource", "fuse"),
        ("shm_size", "lots"),
        ("launcher", "ssh"),
        ("storage", "hostPath"),
        ("image_pull_policy", "Sometimes"),
    ],
)
def test_bad_values_name_their_field(make_spec: Make, field: str, value: str) -> None:
    with pytest.raises(ClusterError, match=rf"^cluster spec: field '{field}': "):
        make_spec(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [("nodes", 0), ("nodes", 65), ("slots_per_node", 0), ("uid", 0), ("gid", 0), ("agent_port", 80)],
)
def test_numbers_out_of_range(make_spec: Make, field: str, value: int) -> None:
    with pytest.raises(ClusterError, match=rf"^cluster spec: field '{field}': "):
        make_spec(**{field: value})


def test_nodes_bounds_are_inclusive(make_spec: Make) -> None:
    assert make_spec(nodes=1).nodes == 1
    assert make_spec(nodes=64).nodes == 64


def test_unknown_field_is_an_error() -> None:
    with pytest.raises(ClusterError, match=r"^cluster spec: field 'node': unknown field$"):
        load_spec({"name": "demo", "nodes": 2, "rec_image": "rec", "node": 3})


def test_missing_field_is_named() -> None:
    with pytest.raises(ClusterError, match=r"^cluster spec: field 'rec_image': is required$"):
        load_spec({"name": "demo", "nodes": 2})


def test_several_errors_still_one_line() -> None:
    with pytest.raises(ClusterError) as info:
        load_spec({"name": "Bad", "nodes": 0, "rec_image": "x y"})
    assert str(info.value).startswith("cluster spec: field 'name': ")
    assert str(info.value).endswith("(and 2 more)")


def test_nested_resources_path_is_named(make_spec: Make) -> None:
    with pytest.raises(ClusterError, match=r"^cluster spec: field 'resources\.limits\.cpu': "):
        make_spec(resources={"limits": {"cpu": "two"}})


def test_resources_are_parsed(make_spec: Make) -> None:
    resources: dict[str, Any] = {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}
    spec = make_spec(resources=resources)
    assert spec.resources is not None and spec.resources.limits is not None
    assert spec.resources.limits.as_dict() == {"memory": "2Gi"}
