"""`recapp conformance` and `recapp bench` refuse bad input in one line before any container starts;
the pytest session they build asks for the right parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recapp.conformance.session import FullRun, full_suite_args


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --rec and/or --app"),
        (["--rec", "localhost/recapp-test/none:1"], "--rec localhost/recapp-test/none:1: image not found"),
        (["--app", "x", "--workloads", "nope"], "workload 'nope': neither a set nor a workload"),
        (["--app", "x", "--references", "mars"], "references: no system 'mars'"),
        (["--app", "x", "--levels", "L10"], "unknown level(s) L10"),
    ],
)
def test_conformance_refuses_bad_input_in_one_line(run_recapp, tmp_path, args, message):
    result = run_recapp("conformance", *args, "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert message in result.error_line()
    assert not (tmp_path / "out").exists()  # nothing half-made


def test_bench_refuses_an_unknown_workload(run_recapp, tmp_path):
    result = run_recapp("bench", "--workload", "nope", "--out", str(tmp_path))
    assert result.returncode == 2 and "workload 'nope'" in result.error_line()
    assert list(tmp_path.iterdir()) == []


def test_full_suite_args_app_only(tmp_path):
    args = full_suite_args(FullRun(rec_image=None, app_image="a:1", records_dir=tmp_path, levels="L1"))
    parts = [a for a in args if a.endswith((".py", "images"))]
    assert [Path(p).name for p in parts] == ["images", "test_cluster.py", "test_pmix.py", "test_workloads.py"]
    assert "--rec-image" not in args and args[args.index("--app-image") + 1] == "a:1"
    assert "-m" not in args  # nothing deselected: what needs the REC is skipped, with the reason
    assert args[args.index("--records-dir") + 1] == str(tmp_path)
    assert args[args.index("--levels") + 1] == "L1"


def test_full_suite_args_carry_the_backend_and_cluster_settings(tmp_path):
    run = FullRun(
        rec_image="r:1",
        app_image="a:1",
        records_dir=tmp_path,
        backend="kubernetes",
        kubeconfig="/k/config",
        context="ctx",
        cluster_settings={"storage": "emptyDir", "image_pull_policy": "Never"},
    )
    args = full_suite_args(run)
    assert args[args.index("--backend") + 1] == "kubernetes"
    assert args[args.index("--kubeconfig") + 1] == "/k/config"
    assert args[args.index("--kube-context") + 1] == "ctx"
    settings = json.loads(args[args.index("--cluster-settings") + 1])
    assert settings == {"storage": "emptyDir", "image_pull_policy": "Never"}


def test_full_suite_args_default_to_the_local_backend(tmp_path):
    args = full_suite_args(FullRun(rec_image="r:1", app_image=None, records_dir=tmp_path))
    assert args[args.index("--backend") + 1] == "local" and "--kubeconfig" not in args
    assert json.loads(args[args.index("--cluster-settings") + 1]) == {}
