"""workloads/hpcc: the runner's reading of HPCC's hpccoutf.txt (`hpcc --report`) and the parser of its
records (hpcc_output), on a real hpccoutf.txt captured here.

captured/hpcc.hpccoutf.nested-np4.txt is the hpccoutf.txt of `recapp run --cluster hpcc-a --app
localhost/recapp/app-hpcc:trixie --np 4 -- hpcc --np 4` (2 node pods, nested, Debian's hpcc 1.5.0,
N=480, load ≈ 25); captured/hpcc.job-output.nested-np4.txt is that job's output. The failure cases
change one verdict line of the real file each.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from recapp.k8s import jobs
from recapp.workloads.hpcc import hpcc_output

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "workloads" / "hpcc" / "src"
RUNNER = SRC / "hpcc"
CAPTURED = Path(__file__).resolve().parent / "captured"
OUTF = CAPTURED / "hpcc.hpccoutf.nested-np4.txt"
JOB_OUTPUT = CAPTURED / "hpcc.job-output.nested-np4.txt"
RANKS = "".join(f"RANK rank={r} size=4 host=hpcc-a-node-{r // 2}\n" for r in range(4))


def report(path: Path, np: int = 4) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(RUNNER), "--report", str(path)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "OMPI_COMM_WORLD_SIZE": str(np)},
        check=False,
        timeout=30,
    )


def changed(tmp_path: Path, old: str, new: str) -> Path:
    text = OUTF.read_text()
    assert old in text, old
    path = tmp_path / "hpccoutf.txt"
    path.write_text(text.replace(old, new))
    return path


def test_report_of_the_captured_run_gives_hpccs_own_figures() -> None:
    proc = report(OUTF)
    assert proc.returncode == 0, proc.stderr
    records = proc.stdout.splitlines()
    assert [line.split()[0] for line in records] == [
        "HPCC_HPL",
        "HPCC_STREAM",
        "HPCC_PTRANS",
        "HPCC_RANDOMACCESS",
        "HPCC_FFT",
        "HPCC_BEFF",
        "HPCC_RESULT",
    ]
    assert (
        records[0] == "HPCC_HPL n=480 nb=80 p=2 q=2 gflops=0.0301406 scaled_residual=0.0047717 check=PASSED"
    )
    assert (
        records[4] == "HPCC_FFT n=16384 gflops=0.00663302 max_err=1.04738e-15 scaled_err=0.6739 check=PASSED"
    )
    assert records[6] == (
        f"HPCC_RESULT np=4 commworld=4 version=1.5.0 success=1 status=passed dir={OUTF.parent.resolve()}"
    )
    # The job's own output (what rank 0 printed on the cluster) holds the same records.
    assert JOB_OUTPUT.read_text().splitlines()[4:10] == records[:6]


def test_figures_and_sanity_of_the_captured_job() -> None:
    output = JOB_OUTPUT.read_text()
    figures = {name: (f.value, f.unit) for name, f in hpcc_output.figures(output).items()}
    assert figures == {
        "hpcc_hpl_gflops": (0.0301406, "Gflop/s"),
        "hpcc_hpl_n": (480.0, "count"),
        "hpcc_hpl_scaled_residual": (0.0047717, "ratio"),
        "hpcc_stream_copy_gbs": (17.3403, "GB/s"),
        "hpcc_stream_triad_gbs": (20.9999, "GB/s"),
        "hpcc_ptrans_gbs": (0.327561, "GB/s"),
        "hpcc_randomaccess_gups": (4.83368e-05, "GUP/s"),
        "hpcc_fft_gflops": (0.00663302, "Gflop/s"),
        "hpcc_beff_lat_min_us": (5.23594, "us"),
        "hpcc_beff_lat_avg_us": (23.5642, "us"),
        "hpcc_beff_lat_max_us": (35.426, "us"),
        "hpcc_beff_ring_lat_us": (26.5266, "us"),
        "hpcc_beff_bw_avg_gbs": (2.59249, "GB/s"),
    }
    assert hpcc_output.sanity_errors(output) == []
    # The job runner reads them through the workload registry.
    assert jobs.workload_figures(output)["hpcc_hpl_n"].value == 480.0
    assert jobs.workload_sanity_errors(output) == []


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("...... PASSED", "...... FAILED", "HPCC HPL: verification FAILED"),
        (
            "WALL   240   240  80  80   2   2     0.00 PASSED",
            "WALL   240   240  80  80   2   2     0.00 FAILED",
            "HPCC PTRANS: verification FAILED",
        ),
        (
            "Found 0 errors in 131072 locations (passed).",
            "Found 9000 errors in 131072 locations (failed).",
            None,
        ),
        ("MPIFFT_maxErr=1.04738e-15", "MPIFFT_maxErr=1.04738e-12", "HPCC MPIFFT: verification FAILED"),
        ("Success=1", "Success=0", "HPCC: its summary flag Success is not 1"),
    ],
    ids=["hpl", "ptrans", "randomaccess", "fft", "success"],
)
def test_a_failed_check_fails_the_run(tmp_path: Path, old: str, new: str, error: str | None) -> None:
    path = changed(tmp_path, old, new)
    proc = report(path)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1].endswith(f"status=failed dir={tmp_path.resolve()}")
    errors = hpcc_output.sanity_errors(RANKS + proc.stdout)
    if error is None:  # the MPIRandomAccess line: the first "Found" of its section decides
        assert errors == ["HPCC MPIRandomAccess: verification FAILED"]
    else:
        assert errors == [error]


def test_stream_errors_counted_by_hpcc_fail_the_run(tmp_path: Path) -> None:
    text = OUTF.read_text()
    start = text.index("Begin of StarSTREAM section.")
    at = text.index("Node(s) with error 0", start)
    path = tmp_path / "hpccoutf.txt"
    path.write_text(text[:at] + "Node(s) with error 1" + text[at + len("Node(s) with error 0") :])
    proc = report(path)
    assert proc.returncode == 1
    assert (
        "HPCC_STREAM copy_gbs=17.3403 scale_gbs=13.436 add_gbs=19.6294 triad_gbs=20.9999 check=FAILED"
        in proc.stdout
    )
    assert hpcc_output.sanity_errors(RANKS + proc.stdout) == ["HPCC StarSTREAM: verification FAILED"]


def test_a_run_on_other_processes_than_the_job_started_fails() -> None:
    output = JOB_OUTPUT.read_text().replace("commworld=4", "commworld=2")
    assert hpcc_output.sanity_errors(output) == ["HPCC ran on 2 process(es), the job started 4"]


def test_an_input_sized_for_another_job_fails() -> None:
    output = JOB_OUTPUT.read_text().replace("HPCC_RESULT np=4", "HPCC_RESULT np=2")
    assert hpcc_output.sanity_errors(output) == ["HPCC ran on 4 process(es), its input was sized for --np 2"]


def test_a_runner_that_did_not_finish_is_not_a_result() -> None:
    output = "\n".join(
        line for line in JOB_OUTPUT.read_text().splitlines() if not line.startswith("HPCC_RESULT")
    )
    assert hpcc_output.figures(output) == {}
    assert hpcc_output.sanity_errors(output) == [
        "HPCC output unusable: HPCC records without HPCC_RESULT (the runner did not finish)"
    ]
    failed = RANKS + "HPCC_RESULT np=4 commworld=0 version=0 success=0 status=failed dir=/tmp/x\n"
    assert hpcc_output.sanity_errors(failed) == [
        "HPCC did not complete (see /tmp/x/hpcc.out.0 on rank 0's node)"
    ]


def test_report_of_a_file_that_is_not_hpccs_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "other.txt"
    path.write_text("hello\n")
    proc = report(path)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == f"hpcc: --report: {path} holds no HPCC summary section\n"


def test_records_yaml_matches_the_runners_printf_formats() -> None:
    records = yaml.safe_load((SRC / "records.yaml").read_text())["records"]
    text = RUNNER.read_text()
    for tag, record in records.items():
        if tag == "RANK":
            continue
        formats = [line for line in text.replace("\\\n", "").splitlines() if f'"{tag} ' in line]
        assert formats, tag
        for line in formats:
            fmt = line[line.index(f'"{tag} ') + 1 :]
            fmt = fmt[: fmt.index('"')].removesuffix("\\n")
            keys = [pair.split("=", 1)[0] for pair in fmt.split(" ")[1:]]
            assert keys == record["keys"], tag
    assert (SRC / "recapp_rank.c").resolve() == ROOT / "workloads" / "gromacs" / "src" / "recapp_rank.c"


# --- the runner's sizing, with a stand-in for HPCC's binary that only shows its input -----------------


@pytest.fixture
def image_tree(tmp_path: Path) -> Path:
    """The APP's /usr/local layout: the runner in bin/, a stand-in `hpcc` binary that copies hpccinf.txt."""
    shutil.copy(RUNNER, tmp_path / "hpcc")
    (tmp_path / "bin").mkdir()
    shutil.copy(RUNNER, tmp_path / "bin" / "hpcc")
    binary = tmp_path / "lib" / "recapp" / "hpcc" / "hpcc"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\ncat hpccinf.txt >&3\n")
    binary.chmod(0o755)
    return tmp_path


def sized(image_tree: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    namespace = f"recapp-test-{uuid.uuid4().hex[:12]}"
    proc = subprocess.run(
        ["bash", str(image_tree / "bin" / "hpcc"), *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PMIX_RANK": "0", "PMIX_NAMESPACE": namespace},
        check=False,
        timeout=30,
    )
    shutil.rmtree(Path("/tmp/recapp-hpcc") / namespace, ignore_errors=True)
    return proc, proc.stdout


def inf_values(text: str) -> dict[str, str]:
    lines = text.splitlines()
    return {
        "N": lines[5].split()[0],
        "NB": lines[7].split()[0],
        "P": lines[10].split()[0],
        "Q": lines[11].split()[0],
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--np", "4"], {"N": "320", "NB": "80", "P": "2", "Q": "2"}),  # √(4 × 0.25 MiB / 8 B) = 362 → 320
        (["--np", "6", "--mem-mib", "2"], {"N": "1200", "NB": "80", "P": "2", "Q": "3"}),
        (["--np", "7", "--n", "1000", "--nb", "64"], {"N": "1000", "NB": "64", "P": "1", "Q": "7"}),
        (["--np", "1", "--mem-mib", "0.001"], {"N": "80", "NB": "80", "P": "1", "Q": "1"}),
    ],
)
def test_the_input_fits_the_jobs_size(image_tree: Path, args: list[str], expected: dict[str, str]) -> None:
    proc, out = sized(image_tree, *args)
    # The stand-in writes no hpccoutf.txt: the runner says HPCC failed, after HPCC read its input.
    assert proc.returncode == 1
    assert inf_values(out) == expected
    assert out.splitlines()[0] == "HPLinpack benchmark input file"
    assert out.splitlines()[-1].startswith(
        "HPCC_RESULT np=" + args[1] + " commworld=0 version=0 success=0 status=failed"
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ([], "hpcc: give the job's rank count with --np (the launcher does not say it)"),
        (["--np", "0"], "hpcc: --np must be a positive integer, got '0'"),
        (
            ["--np", "4", "--mem-mib", "-1"],
            "hpcc: --mem-mib must be a positive number (at most 3 decimals), got '-1'",
        ),
        (["--np", "4", "--nb", "x"], "hpcc: --nb must be a positive integer, got 'x'"),
        (
            ["--np", "4", "--bogus"],
            "hpcc: unknown argument '--bogus' (usage: hpcc --np NP [--mem-mib MIB] [--n N] [--nb NB])",
        ),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(image_tree: Path, args: list[str], error: str) -> None:
    proc, out = sized(image_tree, *args)
    assert (proc.returncode, out, proc.stderr) == (2, "", error + "\n")
