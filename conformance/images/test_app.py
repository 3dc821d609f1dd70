"""APP image checks: the MPI library and PMIx client without any launcher or sshd; libmpi resolves
the system libpmix (an external PMIx); labels match what is inside; non-root by default."""

from __future__ import annotations

import re

import pytest

from recapp.conformance.images import facts
from recapp.host import images

pytestmark = pytest.mark.app

CONFIG_RECORD = "/usr/local/share/recapp/ompi-config.txt"


@pytest.mark.parametrize("name", [*facts.LAUNCHERS, *facts.SSH_DAEMONS])
def test_no_launcher_or_sshd(app_root, name):
    assert not app_root.exists(name), (
        f"APP contains `{name}` on PATH: an APP must carry no launcher and no sshd"
    )
    found = app_root.run(
        f"find / -xdev \\( -type f -o -type l \\) -name '{name}' -o -name '{name}.*' 2>/dev/null"
    )
    hits = [p for p in found.stdout.split() if p.rsplit("/", 1)[-1].split(".")[0] == name and "/bin" in p]
    assert not hits, f"APP contains launcher/sshd files: {', '.join(hits)}"


def _libmpi(host) -> str:
    out = host.run("ldconfig -p").stdout
    paths = re.findall(r"=>\s*(\S*/libmpi\.so\.\d+)\s*$", out, re.MULTILINE)
    if not paths:
        # An APP may use PMIx directly, with no MPI (validate-app then runs only the PMIx levels).
        pytest.skip("no libmpi.so.N is known to the dynamic linker (ldconfig -p): an APP without MPI")
    return paths[0]


def test_libmpi_resolves_libpmix(app_root):
    libmpi = _libmpi(app_root)
    ldd = app_root.run(f"ldd {libmpi}")
    assert ldd.rc == 0, f"ldd {libmpi} failed: {ldd.stderr.strip()[:200]}"
    missing = facts.ldd_missing(ldd.stdout)
    assert not missing, f"{libmpi} has unresolved libraries: {', '.join(missing)}"
    pmix = facts.ldd_resolves(ldd.stdout, "libpmix.so")
    if pmix is None:
        # Open MPI 4 loads an external PMIx through its `pmix/ext*` MCA component (dlopen'ed).
        found = app_root.run("find / -xdev -name 'mca_pmix_ext*.so' 2>/dev/null").stdout.split()
        for component in found:
            pmix = facts.ldd_resolves(app_root.run(f"ldd {component}").stdout, "libpmix.so")
            if pmix:
                break
    assert pmix, (
        f"neither {libmpi} nor an Open MPI pmix/ext component resolves libpmix.so: "
        "Open MPI is not using an external PMIx client"
    )


def test_configure_line_uses_external_pmix(app_root):
    record = app_root.file(CONFIG_RECORD)
    if not record.exists:
        pytest.skip(f"{CONFIG_RECORD} absent (image not built by recapp); linkage is checked by ldd instead")
    cli = record.content_string
    pmix = facts.configure_pmix(cli)
    assert pmix is not None, "Open MPI configure line has no --with-pmix"
    assert pmix == "external" or pmix.startswith("/"), f"Open MPI was configured with --with-pmix={pmix}"


def test_mpich_label_matches_the_library(app_labels, app_root):
    """An MPICH APP built by recapp: its label is what the library itself reports (mpich_info calls
    MPI_Get_library_version, which needs no launcher)."""
    mpich = app_labels.get("io.recapp.version.mpich")
    if not mpich:
        pytest.skip("no io.recapp.version.mpich label (not an MPICH APP built by recapp)")
    info = app_root.run("mpich_info")
    assert info.rc == 0, f"mpich_info failed (exit {info.rc}): {(info.stderr or info.stdout).strip()[:200]}"
    found = re.search(r'library_version="([^"]+)"', info.stdout)
    reported = found.group(1) if found else "?"
    assert reported == mpich, f"libmpi reports MPICH {reported}, the image label says {mpich}"
    header = re.search(r'header_version="([^"]+)"', info.stdout)
    assert header and header.group(1) == mpich, "the programs were compiled against another MPICH's mpi.h"


def test_labels_match_contents(app_image, app_labels, app_root):
    ompi = app_labels.get("io.recapp.version.ompi")
    pmix = app_labels.get("io.recapp.version.pmix")
    if app_labels.get("io.recapp.version.mpich") and not ompi:
        pytest.skip("an MPICH APP: test_mpich_label_matches_the_library checks its labels")
    if not ompi or not pmix:
        pytest.skip("image carries no io.recapp.version.* labels (not built by recapp)")
    record = app_root.file(CONFIG_RECORD)
    if record.exists:
        full = re.search(r"^ompi:version:full:(\S+)", record.content_string, re.MULTILINE)
        assert full and facts.numeric_core(full.group(1)) == facts.numeric_core(ompi), (
            f"configure record is for Open MPI {full.group(1) if full else '?'}, the label says {ompi}"
        )
    # Without a server pmix_probe fails PMIx_Init (exit 1) but still reports its client library.
    probe = app_root.run("pmix_probe")
    client = facts.pmix_probe_client_version(probe.stdout)
    if client is not None:
        assert facts.numeric_core(client) == facts.numeric_core(pmix), (
            f"the PMIx client library reports {client}, the image label says {pmix}"
        )
    hello = app_root.run("hello")
    if hello.rc != 0 and facts.ompi_singleton_needs_orted(hello.stdout + hello.stderr):
        pytest.skip(
            f"Open MPI {ompi} singletons exec orted, which an APP must not carry: `hello` cannot run "
            "without a launcher (configure record and PMIx client checked)"
        )
    assert hello.rc == 0, f"`hello` as a singleton failed (exit {hello.rc}): {hello.stderr.strip()[:200]}"
    match = re.search(r'mpi_version="Open MPI v(\S+?),', hello.stdout)
    assert match, f"`hello` printed no Open MPI version: {hello.stdout[:200]!r}"
    assert facts.numeric_core(match.group(1)) == facts.numeric_core(ompi), (
        f"libmpi reports Open MPI {match.group(1)}, the image label says {ompi}"
    )


def test_default_user_is_not_root(app_image, app_host):
    user = (images.inspect(app_image) or {}).get("Config", {}).get("User", "")
    assert not facts.is_root_user(user), f"APP image's default user is root ({user!r})"
    assert app_host.user().uid != 0, "APP container runs as uid 0 by default"


def test_distribution_mca_defaults_present(app_root):
    """Debian's Open MPI reads its site defaults from /etc/openmpi/openmpi-mca-params.conf, which
    ships with the launcher's package. An APP that drops the file along with the launcher runs with
    the ofi and ucx transports Debian switches off, and btl/ofi's start-up alone costs each rank about
    a second in MPI_Init (recapp measured 1.1 s against 0.02 s natively)."""
    libmpi = app_root.run(f"readlink -f {_libmpi(app_root)}").stdout.strip()  # dpkg knows /usr/lib
    owner = app_root.run(f"dpkg -S {libmpi}")
    if owner.rc != 0:
        # Not a distribution's Open MPI (built from source): its defaults are its builder's, and it
        # has only the transports whose libraries were there when it was configured.
        return
    conf = app_root.file("/etc/openmpi/openmpi-mca-params.conf")
    assert conf.exists, (
        f"{libmpi} ({owner.stdout.split(':')[0]}) runs without Debian's "
        "/etc/openmpi/openmpi-mca-params.conf (it ships with openmpi-bin, the launcher's package): "
        "copy it from a build stage, or write Debian's lines "
        "'btl = ^uct,openib,ofi', 'mtl = ^ofi', 'pml = ^ucx', 'osc = ^ucx,pt2pt' into it"
    )
