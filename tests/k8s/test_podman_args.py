"""The local backend realises the rendered pod templates (one source of truth), as podman arguments."""

from __future__ import annotations

import copy
import json

import pytest

from recapp.errors import ClusterError
from recapp.k8s import constants as c
from recapp.k8s import objects as o
from recapp.k8s.local.podman_args import Placement, probe_command, run_argv
from recapp.k8s.spec import load_spec

SPEC = load_spec({"name": "demo", "nodes": 2, "rec_image": "localhost/recapp/rec:trixie"})
OBJECTS = o.cluster_objects(SPEC, agent_secret="ab" * 32)
SOURCES = {
    c.STORAGE_VOLUME: "vol-storage",
    c.IMAGES_VOLUME: "vol-images",
    c.AGENT_SECRET_VOLUME: "/secret/dir",
}


def node_argv(template: dict | None = None) -> list[str]:
    placement = Placement(
        pod="demo-node-0",
        hostname="demo-node-0",
        network="recapp-demo",
        aliases=["demo-node-0.demo-nodes"],
        volume_sources=SOURCES,
        ulimit_args=["--ulimit", "nofile=1:1"],
    )
    return run_argv(template or o.node_pod_template(OBJECTS), c.NODE_CONTAINER, placement)


def pairs(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == flag]


def test_node_argv_comes_from_the_statefulset_template():
    argv = node_argv()
    container = o.node_pod_template(OBJECTS)["spec"]["containers"][0]
    assert container["image"] in argv
    assert json.loads(pairs(argv, "--entrypoint")[0]) == container["command"]
    assert pairs(argv, "--user") == [f"{SPEC.uid}:{SPEC.gid}"]
    assert pairs(argv, "--cap-drop") == ["ALL"]
    assert pairs(argv, "--cap-add") == ["SETUID", "SETGID", "SYS_CHROOT"]
    assert "--privileged" not in argv
    envs = dict(e.split("=", 1) for e in pairs(argv, "--env"))
    assert envs == {e["name"]: e["value"] for e in container["env"]}
    volumes = pairs(argv, "--volume")
    assert f"vol-storage:{c.STORAGE_MOUNT}:rw" in volumes
    assert f"/secret/dir:{c.AGENT_SECRET_DIR}:ro" in volumes
    assert "--shm-size" in argv  # the Memory emptyDir at /dev/shm
    assert pairs(argv, "--network-alias") == ["demo-node-0.demo-nodes"]
    labels = pairs(argv, "--label")
    assert f"{c.LABEL_CLUSTER}=demo" in labels and f"{c.LABEL_COMPONENT}=node" in labels


def test_a_changed_template_changes_the_container():
    template = copy.deepcopy(o.node_pod_template(OBJECTS))
    template["spec"]["containers"][0]["env"].append({"name": "MARK", "value": "42"})
    template["spec"]["securityContext"]["runAsUser"] = 4242
    argv = node_argv(template)
    assert "MARK=42" in pairs(argv, "--env")
    assert pairs(argv, "--user") == [f"4242:{SPEC.gid}"]


def test_login_template_drops_privileges():
    placement = Placement(
        pod="demo-login",
        hostname="demo-login",
        network="recapp-demo",
        volume_sources={c.HOSTFILE_VOLUME: "vol-hostfile", c.AGENT_SECRET_VOLUME: "/secret/dir"},
    )
    argv = run_argv(o.login_pod_template(OBJECTS), c.LOGIN_CONTAINER, placement)
    assert pairs(argv, "--security-opt") == ["no-new-privileges"]
    assert pairs(argv, "--cap-add") == []
    assert f"vol-hostfile:{c.HOSTFILE_DIR}:ro" in pairs(argv, "--volume")
    envs = dict(e.split("=", 1) for e in pairs(argv, "--env"))
    assert envs[c.PLM_AGENT_ENV] == c.AGENT_LAUNCH_COMMAND


def test_the_readiness_probe_is_the_templates():
    assert probe_command(o.node_pod_template(OBJECTS), c.NODE_CONTAINER) == o.agent_ping_command(SPEC)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t["spec"]["containers"][0]["securityContext"].update(privileged=True), "privileged"),
        (lambda t: t["spec"].update(hostNetwork=True), "hostNetwork"),
        (lambda t: t["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/"}}), "hostPath"),
        (lambda t: t["spec"]["securityContext"].update(seccompProfile={"type": "Unconfined"}), "Unconfined"),
        (lambda t: t["spec"]["containers"][0]["env"].append({"name": "X", "valueFrom": {}}), "valueFrom"),
    ],
)
def test_what_one_machine_cannot_honour_is_refused(mutate, message):
    template = copy.deepcopy(o.node_pod_template(OBJECTS))
    mutate(template)
    with pytest.raises(ClusterError, match=message):
        node_argv(template)
