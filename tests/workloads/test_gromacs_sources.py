"""workloads/gromacs/src: the water systems' inputs, the Makefile that builds them, and gmx-water's
records and argument handling — without GROMACS (the e2e tests run the real thing)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

SRC = Path(__file__).resolve().parents[2] / "workloads" / "gromacs" / "src"
RUNNER = SRC / "gmx-water"


def mdp(name: str) -> dict[str, str]:
    out = {}
    for line in (SRC / name).read_text().splitlines():
        line = line.split(";", 1)[0].strip()
        if line:
            key, _, value = line.partition("=")
            out[key.strip().replace("_", "-").lower()] = value.strip()
    return out


def records() -> dict:
    return yaml.safe_load((SRC / "records.yaml").read_text())["records"]


def test_result_record_format_matches_records_yaml():
    text = RUNNER.read_text()
    [fmt] = re.findall(r"printf '(GROMACS_RESULT [^']*)\\n'", text)
    keys = [pair.split("=", 1)[0] for pair in fmt.split(" ")[1:]]
    assert keys == records()["GROMACS_RESULT"]["keys"]
    assert all(pair.endswith("=%s") for pair in fmt.split(" ")[1:])  # values never contain spaces
    [rank] = re.findall(r'"(RANK [^"]*)\\n"', (SRC / "recapp_rank.c").read_text())
    assert rank == "RANK rank=%d size=%d host=%s"
    assert [pair.split("=", 1)[0] for pair in rank.split(" ")[1:]] == records()["RANK"]["keys"]


def test_rank_shim_wraps_both_mpi_init_calls_through_pmpi():
    source = (SRC / "recapp_rank.c").read_text()
    for call in (
        "MPI_Init(int *argc, char ***argv)",
        "MPI_Init_thread(int *argc, char ***argv, int required",
    ):
        assert f"int {call}" in source
    assert "PMPI_Init(argc, argv)" in source and "PMPI_Init_thread(argc, argv, required, provided)" in source
    makefile = (SRC / "Makefile").read_text()
    assert re.search(r"^\t\$\(MPICC\) .*\$\(WARNFLAGS\) -shared -fPIC", makefile, re.MULTILINE)
    runner = RUNNER.read_text()
    assert 'LD_PRELOAD="$shim' in runner and "RECAPP_RANK_FD=3" in runner and "3>&1 >mdrun.out 2>&1" in runner


@pytest.mark.parametrize("name", ["eq.mdp", "md.mdp"])
def test_dynamics_use_pme_and_v_rescale_at_300_k(name):
    p = mdp(name)
    assert p["integrator"] == "md" and p["coulombtype"] == "PME"
    assert p["tcoupl"] == "v-rescale" and p["ref-t"] == "300" and p["tc-grps"] == "System"


def test_production_continues_from_the_equilibration():
    eq, md = mdp("eq.mdp"), mdp("md.mdp")
    assert (eq["gen-vel"], eq["gen-temp"], eq["continuation"]) == ("yes", "300", "no")
    assert (md["gen-vel"], md["continuation"]) == ("no", "yes")
    # same physics otherwise
    for key in ("dt", "rcoulomb", "rvdw", "constraints", "tau-t", "dispcorr"):
        assert eq[key] == md[key], key


def test_topology_is_opls_aa_with_spc_e_water():
    top = (SRC / "topol.top.in").read_text()
    assert '#include "oplsaa.ff/forcefield.itp"' in top and '#include "oplsaa.ff/spce.itp"' in top
    assert top.rstrip().endswith("[ molecules ]")  # gmx solvate -p appends the SOL count


def test_makefile_box_sizes():
    text = (SRC / "Makefile").read_text()
    assert re.search(r"^BOX_water-ci = 3\.0$", text, re.MULTILINE)
    assert re.search(r"^BOX_water-bench = 6\.0$", text, re.MULTILINE)


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed on this machine")
def test_make_install_builds_both_systems_and_installs_the_runner(tmp_path):
    work = tmp_path / "gromacs"
    shutil.copytree(SRC, work)
    # -n prints what would run: solvate, grompp and mdrun for each system, then the install.
    out = subprocess.run(
        ["make", "-n", "-C", str(work), "install", "DESTDIR=/stage"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for system, box in (("water-ci", "3.0"), ("water-bench", "6.0")):
        assert f"solvate -cs spc216.gro -box {box} {box} {box} -o {system}.solv.gro -p {system}.top" in out
        assert f"-c {system}.eq.gro -t {system}.eq.cpt -p {system}.top -o {system}.tpr" in out
    assert "install -m 0755 gmx-water /stage/usr/local/bin/" in out
    assert "install -m 0644 librecapp-rank.so /stage/usr/local/lib/recapp/" in out
    assert "water-ci.tpr water-bench.tpr" in out and "/stage/usr/local/share/recapp/gromacs/" in out


def run_runner(*args: str, rank: str = "0") -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "PMIX_RANK": rank}
    return subprocess.run(["bash", str(RUNNER), *args], capture_output=True, text=True, env=env, timeout=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nsteps", "abc"], "gmx-water: --nsteps must be a positive integer, got 'abc'"),
        (["--nsteps", "0"], "gmx-water: --nsteps must be a positive integer, got '0'"),
        (["--ntomp", "-1"], "gmx-water: --ntomp must be a positive integer, got '-1'"),
        (["--tpr", "/nonexistent/x.tpr"], "gmx-water: --tpr: no readable file '/nonexistent/x.tpr'"),
        (["huge"], "gmx-water: unknown argument 'huge'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_from_rank_0_only(args, message):
    result = run_runner(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith(message)
    other = run_runner(*args, rank="1")
    assert (other.returncode, other.stdout, other.stderr) == (2, "", "")


def test_help_describes_the_systems():
    result = run_runner("--help")
    assert result.returncode == 0
    assert "water-ci.tpr" in result.stdout and "water-bench.tpr" in result.stdout
