"""Hostile names in every user-supplied name, through the installed CLI: one error line, exit 2,
nothing created (no state under RECAPP_HOME, no container/volume/network, no file the name tried to
make), and no shell ever sees the name (the `touch` inside it never runs)."""

from __future__ import annotations

import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from recapp.host.names import image_ref_problem

pytestmark = pytest.mark.reliability

PWNED = "/tmp/recapp-pwned"
HOSTILE = [
    f"a;touch {PWNED}",
    f"$(touch {PWNED})",
    f"`touch {PWNED}`",
    f"a && touch {PWNED}",
    "../../etc",
    "/etc/passwd",
    "a/../../b",
    "-rf",
    "a b",
    "UPPER",
    "x" * 300,
    "ünïcode",
    "a\tb",
    "",
    "a,recapp.io/cluster=b",  # a label-selector injection
]
APP = "localhost/recapp/app-mpi:trixie"
# A valid cluster name beside the hostile value: if that value slipped through, a cluster of this
# name would be made, and the test looks for one.
OK = f"rh{secrets.token_hex(3)}"


def cases(tmp: Path, hostile: list[str]) -> list[tuple[list[str], str]]:
    """(argv, a word the error line must contain) for every hostile value at every entry point.
    Positional arguments follow `--`, as a user passes a value starting with '-'."""
    out: list[tuple[list[str], str]] = []
    for bad in hostile:  # not one of them is a cluster name, a recipe name or a suite
        out += [
            (["cluster", "up", "--name", bad], "name"),
            (["cluster", "status", "--name", bad], "name"),
            (["cluster", "down", "--name", bad], "name"),
            (["cluster", "login", "--name", bad], "name"),
            (["cluster", "render", "--name", bad, "--out", str(tmp / "render")], "name"),
            *([(["cluster", "up", "--name", OK, "--namespace", bad], "namespace")] if bad else []),
            (["run", "--cluster", bad, "--np", "2", "--app", APP, "--", "hello"], "cluster"),
            (["demo", "--name", bad], "--name"),
            (["build", "app", "--workload", bad], "recipe"),
            (["base", "--", bad], "suite"),
        ]
    # Image references: the hostile values that are not references (UPPER is one, syntactically).
    for bad in (b for b in hostile if image_ref_problem(b)):
        out += [
            (["cluster", "up", "--name", OK, "--rec", bad], "rec_image"),
            (["run", "--cluster", OK, "--np", "2", "--app", bad, "--", "hello"], "APP image"),
            (["build", "rec", "--tag", bad], "--tag"),
            (["push", "--", bad, "registry.example/x:1"], "image"),
            (["push", "--", APP, bad], "destination"),
            (["matrix", "--rec", bad, "--app", APP, "--out", str(tmp / "matrix")], "--rec"),
            (["validate-app", "--out", str(tmp / "validate"), "--", bad], "APP image"),
            (["conformance", "images", "--rec-image", bad], "--rec-image"),
            (["conformance", "security", "--app", bad, "--no-checkov"], "--app"),
        ]
    return out


# Both halves need no image and no cluster, so CI (`make test`) runs them all: the empty name once
# slipped through (`build app --workload ''` built the default APP) while only `make reliability` ran it.
@pytest.mark.parametrize(
    "hostile", [pytest.param(HOSTILE[:6], id="shell"), pytest.param(HOSTILE[6:], id="paths-and-empty")]
)
def test_hostile_names_are_refused_in_one_line_and_make_nothing(run_recapp, tmp_path: Path, hostile):
    home = tmp_path / "state"
    home.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    todo = cases(work, hostile)

    def attempt(case):
        argv, _word = case
        return run_recapp(*argv, env={"RECAPP_HOME": str(home)}, timeout=120)

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(attempt, todo))
    refused = []
    for (argv, word), result in zip(todo, results, strict=True):
        line = result.error_line()  # exit 2, one line, no traceback
        assert word in line, f"{argv}: the error does not name {word!r}: {line}"
        refused.append(line)
    assert len(refused) == len(todo) >= 9 * len(hostile)
    assert not Path(PWNED).exists(), "a hostile name reached a shell"
    # Nothing made: no cluster state, no render, matrix or validate folders; recapp's engine settings
    # (containers.conf) are the only thing the state dir may hold.
    for what in (["ps", "-aq"], ["volume", "ls", "-q"], ["network", "ls", "-q"]):
        listed = subprocess.run(
            ["podman", *what, "--filter", f"label=recapp.io/cluster={OK}"], capture_output=True, text=True
        )
        assert listed.stdout.split() == [], f"podman {what[0]}: objects of {OK} were made"
    made = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if "engine" not in p.parts)
    assert made == ["state", "work"], made


@pytest.mark.parametrize(
    ("content", "word"),
    [
        (None, "kubeconfig"),  # missing file
        ("{not: [yaml", "kubeconfig"),
        ("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n", "kubeconfig"),
        (  # well-formed, pointing at a closed port on this machine: unreachable
            "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
            "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:9'}}]\n"
            "contexts: [{name: c, context: {cluster: k, user: u}}]\nusers: [{name: u, user: {token: t}}]\n",
            "127.0.0.1:9",
        ),
    ],
    ids=["missing", "not-yaml", "no-context", "unreachable"],
)
def test_bad_kubeconfig_is_one_line_exit_2(run_recapp, tmp_path: Path, content, word):
    path = tmp_path / "kubeconfig"
    if content is not None:
        path.write_text(content)
    for argv in (
        ["cluster", "up", "--backend", "kubernetes", "--kubeconfig", str(path), "--name", OK],
        ["cluster", "status", "--backend", "kubernetes", "--name", OK],
    ):
        env = {"KUBECONFIG": str(path), "RECAPP_HOME": str(tmp_path / "state")}
        line = run_recapp(*argv, env=env, timeout=120).error_line()
        assert word in line, f"{argv}: {line}"
