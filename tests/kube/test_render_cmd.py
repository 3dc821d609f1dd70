"""`recapp cluster render`: the typer command, run through typer's own runner on a one-command app
(the lead registers it in the `cluster` sub-app)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from recapp.cli.cluster_render_cmd import render
from recapp.errors import ClusterError

app = typer.Typer()
app.command("render")(render)
app.command("unused")(lambda: None)  # two commands, so `render` is addressed by name as in the real CLI


def invoke(*args: str) -> typer.testing.Result:
    name = [] if "--name" in args else ["--name", "demo"]
    return CliRunner().invoke(app, ["render", *name, *args])


def test_render_writes_the_layout_and_says_how_to_deploy(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    result = invoke(
        "--out", str(out), "--name", "demo", "--nodes", "3", "--slots", "4", "--rec", "reg.example/rec:1"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"wrote 25 files to {out}",
        f"deploy with: kubectl apply -k {out}/overlays/agent",
        "remove with: kubectl delete namespace recapp-demo",
    ]
    sts = yaml.safe_load((out / "base" / "statefulset.yaml").read_text())
    assert sts["spec"]["replicas"] == 3
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "reg.example/rec:1"
    job = yaml.safe_load((out / "base" / "job.yaml").read_text())
    wait = job["spec"]["template"]["spec"]["initContainers"][0]["command"]
    assert wait[wait.index("--slots") + 1] == "4"


def test_kubexec_launcher_and_namespace_as_json(tmp_path: Path) -> None:
    out = tmp_path / "k"
    result = invoke("--out", str(out), "--launcher", "kubexec", "--namespace", "team-a", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["overlay"] == str(out / "overlays" / "kubexec")
    assert data["namespace"] == "team-a"
    assert str(out / "overlays" / "kubexec" / "role-rules.yaml") in data["files"]
    assert yaml.safe_load((out / "base" / "namespace.yaml").read_text())["metadata"]["name"] == "team-a"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--launcher", "podexec"],
            "launcher 'podexec': no Kubernetes overlay (choose one of agent, kubexec)",
        ),
        (["--name", "Demo"], "cluster spec: field 'name': must be a DNS-1035 label"),
        (["--nodes", "0"], "cluster spec: field 'nodes': Input should be greater than or equal to 1 (got 0)"),
    ],
)
def test_bad_options_are_one_line_cluster_errors(tmp_path: Path, args: list[str], message: str) -> None:
    result = invoke("--out", str(tmp_path / "x"), *args)
    assert isinstance(result.exception, ClusterError)
    assert str(result.exception).startswith(message)
    assert not (tmp_path / "x").exists()  # refused before anything was written


def test_name_is_required_as_in_cluster_up(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["render", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "--name" in result.output
