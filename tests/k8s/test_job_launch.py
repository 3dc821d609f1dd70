"""How a job is launched beyond its command: the user's `--mca NAME=VALUE`, yield-when-idle by default
on a local cluster whose ranks are at least the host's cores (busy polling there costs a scheduler
tick per message), all reaching the ranks as OMPI_MCA_* through prterun's -x; and no per-node core
binding on a local cluster, whose node pods share the host's cores (PRRTE bound rank 0 of every node
to the same core 0)."""

from __future__ import annotations

import pytest

from recapp.errors import JobError
from recapp.k8s.jobs import JobRequest, mca_params, prterun_argv, with_backend_defaults


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
    assert argv[9:] == ["wrap-container", "--image", "img@sha", "--", "pingpong"]
    native = prterun_argv(_req(2, mode="native", mca={"btl": "self,tcp"}), None, "/opt/app/bin")
    assert native[-3:] == ["-x", "OMPI_MCA_btl=self,tcp", "/opt/app/bin/pingpong"]


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
