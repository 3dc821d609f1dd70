"""The APP of another MPI (issue 19): MPICH built against the APP's PMIx, run under the PRRTE REC
across nodes, and validate-app's discovery naming what each image carries."""

from __future__ import annotations

import json
import re

import pytest

from recapp.builder.build import BuildRequest, build_image
from recapp.builder.records import BuildRecord
from recapp.conformance.validate_app import discover, named

# slow: a cold machine compiles MPICH for it; source builds run in `make test-source`, not CI.
pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MPICH_APP = "localhost/recapp/app-mpich:trixie"
REC = "localhost/recapp/rec:trixie"


@pytest.fixture(scope="module")
def mpich_app(engine) -> BuildRecord:
    """app-mpich:trixie, cached by recipe hash (a cold machine compiles MPICH here: long)."""
    return build_image(BuildRequest("app", "trixie", workload="mpich"))


def test_mpich_app_is_labelled_with_what_its_library_reports(mpich_app, engine):
    labels = engine.image_labels(MPICH_APP)
    assert labels["io.recapp.version.mpich"] == "4.0.2"
    assert labels["io.recapp.version.pmix"] == "5.0.7"
    info = engine.podman("run", "--rm", *engine.ulimit_args, MPICH_APP, "mpich_info").stdout
    assert 'library_version="4.0.2"' in info and 'header_version="4.0.2"' in info
    assert 'device="ch4:ofi"' in info
    assert "--with-pmix=/usr/lib/x86_64-linux-gnu/pmix2" in info and "--with-pm=no" in info
    # No launcher, no process manager, no compiler in the final stage.
    found = engine.podman(
        "run",
        "--rm",
        *engine.ulimit_args,
        MPICH_APP,
        "sh",
        "-c",
        "for x in mpiexec mpirun hydra_pmi_proxy mpicc gcc cc sshd; do command -v $x; done; true",
    ).stdout
    assert found.strip() == ""
    ldd = engine.podman(
        "run", "--rm", *engine.ulimit_args, MPICH_APP, "ldd", "/opt/mpich/lib/libmpi.so.12"
    ).stdout
    # Merged /usr: the loader may name either path of the one library.
    assert re.search(r"libpmix\.so\.2 => (/usr)?/lib/x86_64-linux-gnu/libpmix\.so\.2", ldd), ldd


@pytest.mark.parametrize(
    ("image", "versions", "text"),
    [
        (
            "localhost/recapp/app-mpi:trixie",
            {"ompi": "5.0.7", "pmix": "5.0.7"},
            "Open MPI 5.0.7, PMIx client 5.0.7",
        ),
        (MPICH_APP, {"mpich": "4.0.2", "pmix": "5.0.7"}, "MPICH 4.0.2, PMIx client 5.0.7"),
        ("localhost/recapp/base:trixie", {}, "no MPI, no PMIx client"),
    ],
)
def test_validate_app_discovery_names_the_mpi(default_images, mpich_app, image, versions, text):
    # Discovery reads dpkg and the libraries only, never recapp's labels.
    found = discover(image)
    assert found == versions
    assert named(found) == text


def test_mpich_hello_across_nodes_under_the_prrte_rec(
    default_images, mpich_app, run_recapp, make_cluster, tmp_path
):
    spec = make_cluster(rec=REC)
    record_path = tmp_path / "hello.json"
    result = run_recapp(
        "run",
        "--cluster",
        spec.name,
        "--app",
        MPICH_APP,
        "--np",
        "4",
        "--map-by",
        "ppr:2:node",
        "--record",
        str(record_path),
        "--",
        "hello",
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    hellos = [line for line in result.stdout.splitlines() if line.startswith("HELLO ")]
    assert len(hellos) == 4, result.stdout
    assert {re.search(r"size=(\d+)", h).group(1) for h in hellos} == {"4"}
    assert all('mpi_version="MPICH Version:' in h and "4.0.2" in h for h in hellos), hellos
    hosts = {re.search(r"host=(\S+)", h).group(1) for h in hellos}
    assert len(hosts) == 2, hosts
    record = json.loads(record_path.read_text())
    assert record["verification"]["passed"] is True, record["verification"]
