"""How a job is launched beyond its command: the user's `--mca NAME=VALUE`, yield-when-idle by default
on a local cluster whose ranks are at least the host's cores (busy polling there costs a scheduler
tick per message), all reaching the ranks as OMPI_MCA_* through prterun's -x; and no per-node core
binding on a local cluster, whose node pods share the host's cores (PRRTE bound rank 0 of every node
to the same core 0)."""

from __future__ import annotations

import pytest

from recapp.errors import JobError
from recapp.k8s.jobs import JobRequest, failed_rank, mca_params, prterun_argv, with_backend_defaults


def _req(np: int, **kw) -> JobRequest:
    return JobRequest(cluster="c", np=np, command=["pingpong"], app="localhost/recapp/app-mpi:trixie", **kw)


@pytest.mark.parametrize(
    ("backend", "np", "cores", "expected"),
    [
        ("local", 2, 2, {"mpi_yield_when_idle": "1"}),  # as many ranks as cores: yield
        ("local", 4, 2, {"mpi_yield_when_idle": "1"}),
        ("local", 2, 8, {}),  # a core per rank and some to spare: busy polling is faster
        ("kubernetes", 4, 2, {}),  # node pods on their own machines: this host's cores say nothing
    ],
)
def test_yield_when_idle_is_the_default_only_where_ranks_share_too_few_cores(backend, np, cores, expected):
    assert mca_params(_req(np), backend, cores=cores) == expected


def test_the_users_setting_wins_either_way():
    off = _req(2, mca={"mpi_yield_when_idle": "0", "btl_tcp_links": "2"})
    assert mca_params(off, "local", cores=2) == {"mpi_yield_when_idle": "0", "btl_tcp_links": "2"}
    assert mca_params(_req(2, mca={"btl": "self,tcp"}), "local", cores=2) == {
        "btl": "self,tcp",
        "mpi_yield_when_idle": "1",
    }


@pytest.mark.parametrize("name", ["OMPI_MCA_btl", "btl tcp", "", "btl=tcp", "-x"])
def test_a_parameter_name_that_is_not_one_is_refused(name):
    with pytest.raises(JobError, match="Open MPI parameter name"):
        mca_params(_req(2, mca={name: "1"}), "local", cores=2)


def test_parameters_reach_the_ranks_as_environment_before_the_command():
    argv = prterun_argv(_req(2, mca={"mpi_yield_when_idle": "1"}, map_by="ppr:1:node"), "img@sha")
    assert argv[:8] == ["prterun", "--hostfile", "/etc/recapp/hostfile/hostfile", "-np", "2", "--map-by",
                        "ppr:1:node", "-x"]  # fmt: skip
    assert argv[8] == "OMPI_MCA_mpi_yield_when_idle=1"
    assert argv[9:] == [
        "--prtemca", "errmgr_base_verbose", "1", "wrap-container", "--image", "img@sha", "--", "pingpong"
    ]  # fmt: skip
    native = prterun_argv(_req(2, mode="native", mca={"btl": "self,tcp"}), None, "/opt/app/bin")
    assert native[-8:] == [
        "-x", "OMPI_MCA_btl=self,tcp", "--prtemca", "errmgr_base_verbose", "1",
        "-x", "LD_LIBRARY_PATH=/opt/app/lib/deps", "/opt/app/bin/pingpong",
    ]  # fmt: skip


def test_a_native_job_finds_the_apps_libraries_beside_its_programs_and_a_nested_one_does_not():
    # HPCC's BLAS is in the APP, not in the REC: deliver_binaries puts it in lib/deps beside bin/.
    req = JobRequest(cluster="c", np=2, command=["hpcc", "--np", "2"], app="app", mode="native")
    native = prterun_argv(req, None, "/v/native/abc/bin")
    assert native[-5:] == [
        "-x",
        "LD_LIBRARY_PATH=/v/native/abc/lib/deps",
        "/v/native/abc/bin/hpcc",
        "--np",
        "2",
    ]
    assert not any(a.startswith("LD_LIBRARY_PATH") for a in prterun_argv(_req(2), "img"))


def test_cli_refuses_a_malformed_mca_in_one_line(run_recapp):
    result = run_recapp(
        "run", "--cluster", "nosuch", "--np", "2", "--mca", "mpi_yield_when_idle", "--", "hello"
    )
    assert result.error_line() == "--mca wants NAME=VALUE, got 'mpi_yield_when_idle'"


@pytest.mark.parametrize(
    ("backend", "asked", "expected"),
    [("local", None, "none"), ("local", "core", "core"), ("kubernetes", None, None)],
)
def test_local_clusters_do_not_bind_ranks_to_cores_unless_asked(backend, asked, expected):
    req = with_backend_defaults(_req(2, bind_to=asked), backend, cores=2)
    assert req.bind_to == expected
    argv = prterun_argv(req, "img")
    assert (argv[argv.index("--bind-to") + 1] if "--bind-to" in argv else None) == expected
    assert req.mca == ({"mpi_yield_when_idle": "1"} if backend == "local" else {})


# Captured from PRRTE 3.0.8 on a 4-node local cluster (errmgr_base_verbose 1); the daemons' lines at
# teardown (job 0) are never a rank.
ERRMGR_SEGV = """\
[x:539] [prterun-x-539@0,0] errmgr:dvm: for proc [prterun-x-539@1,6] state ABORTED BY SIGNAL
[x:539] [prterun-x-539@0,0] errmgr:dvm: for proc [prterun-x-539@1,7] state KILLED BY INTERNAL COMMAND
[x:539] [prterun-x-539@0,0] errmgr:dvm: for proc [prterun-x-539@1,3] state ABORTED BY SIGNAL
[x:539] [prterun-x-539@0,0] errmgr:dvm: for proc [prterun-x-539@0,2] state COMMUNICATION FAILURE
"""
ERRMGR_EXIT = ERRMGR_SEGV.replace("@1,6] state ABORTED BY SIGNAL", "@1,2] state EXITED WITH NON-ZERO STATUS")
REPORT = """\
prte detected that one or more processes exited with non-zero status,
thus causing the job to be terminated. The first process to do so was:

   Process name: [prte-x-login-582@2,4]
   Exit code:    3
"""


@pytest.mark.parametrize(
    ("output", "status", "expected"),
    [
        (ERRMGR_SEGV, 139, "rank 6 was killed by signal 11 (SIGSEGV)"),
        (ERRMGR_EXIT, 3, "rank 2 exited with status 3"),
        (REPORT, 3, "rank 4 exited with status 3"),
        (
            "[x-login:1] [prterun-x@0,0] errmgr:dvm: for proc [prterun-x@0,2] state COMMUNICATION FAILURE",
            1,
            None,
        ),
        ("", 139, None),
    ],
)
def test_the_first_failed_rank_is_named_from_prrtes_report_or_its_error_manager(output, status, expected):
    assert failed_rank(output, status) == expected


def test_a_spawn_job_wraps_every_process_through_prrtes_exec_agent_not_its_argv():
    argv = prterun_argv(_req(2, spawn=True, mounts=["/opt/probe:/opt/probe"]), "img@sha")
    # The agent is read by prterun and given to every job it runs, spawned ones included.
    assert argv[:2] == ["env", "PRTE_MCA_odls_base_exec_agent=wrap-container --image img@sha --mount "
                        "/opt/probe:/opt/probe --"]  # fmt: skip
    assert argv[2] == "prterun"
    assert argv[-1] == "pingpong" and "wrap-container" not in argv[3:]
    dvm = prterun_argv(_req(2, spawn=True, dvm=True), "img")
    assert dvm[2] == "prun" and dvm[-1] == "pingpong"


def test_a_spawn_job_refuses_an_exec_agent_word_prrte_would_split():
    with pytest.raises(JobError, match=r"cannot use '/a b:/c' in PRRTE's exec agent"):
        prterun_argv(_req(2, spawn=True, mounts=["/a b:/c"]), "img")


def test_taskset_pins_the_rank_inside_its_container_in_every_mode():
    nested = prterun_argv(_req(2, taskset="1"), "img")
    assert nested[-5:] == ["--", "taskset", "-c", "1", "pingpong"]
    native = prterun_argv(_req(2, mode="native", taskset="0-1"), None, "/opt/app/bin")
    assert native[-4:] == ["taskset", "-c", "0-1", "/opt/app/bin/pingpong"]
    assert "taskset" not in prterun_argv(_req(2), "img")


@pytest.mark.parametrize("cpus", ["", "a", "1-", "1;rm", "-c"])
def test_a_taskset_list_that_is_not_one_is_refused(cpus):
    with pytest.raises(JobError, match="taskset CPU list"):
        prterun_argv(_req(2, taskset=cpus), "img")


def test_bench_scaling_sizes_are_parsed_or_refused_in_one_line(run_recapp):
    from recapp.cli.bench_cmd import parse_sizes

    assert parse_sizes("16,1,2,4,8") == [16, 1, 2, 4, 8]  # the order given: largest first if asked
    for bad in ("", "1,x", "0,2", "2,2"):
        with pytest.raises(Exception, match="--scaling"):
            parse_sizes(bad)
    result = run_recapp("bench", "--scaling", "1,two", "--no-workloads", "--no-launch")
    assert result.error_line() == "--scaling '1,two': expected distinct node counts ≥ 1, e.g. 1,2,4,8,16"
