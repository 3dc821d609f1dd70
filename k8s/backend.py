"""The one cluster-backend interface: `local` (podman on this machine) and `kubernetes` realise the
same rendered objects."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO, Protocol

from recapp.host.progress import Step
from recapp.k8s.spec import ClusterSpec

# Beside the bin directory deliver_binaries returns (both under the APP's delivered /usr/local): the
# libraries its programs need that the REC lacks, which a native job finds through LD_LIBRARY_PATH.
NATIVE_LIB_DIR = "lib/deps"
# The MPI stack's libraries by soname (Open MPI, PMIx, PRRTE and what they are built on): never taken
# from the APP into NATIVE_LIB_DIR, since a native rank is the APP's program on the *REC's* MPI.
MPI_STACK_RE = "^lib(mpi|open-pal|open-rte|ompitrace|pmix|prrte|prte|hwloc|event|ucp|ucs|ucm|uct|fabric|psm)"


def native_lib_dir(bin_dir: str) -> str:
    """The library directory that goes with a native bin directory (…/bin → …/lib/deps)."""
    return f"{bin_dir.rstrip('/').removesuffix('/bin')}/{NATIVE_LIB_DIR}"


@dataclass(frozen=True)
class PodStatus:
    name: str
    component: str
    state: str  # running, exited, missing, …
    ready: bool
    ip: str | None = None


@dataclass(frozen=True)
class ClusterStatus:
    name: str
    backend: str
    exists: bool
    pods: list[PodStatus] = field(default_factory=list)
    network: str | None = None
    volumes: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return self.exists and bool(self.pods) and all(p.ready for p in self.pods)


class JobProcess(Protocol):
    """What a started command looks like to the job runner: a Popen, or the Kubernetes exec adapter."""

    # Read-only (properties), so an implementation may narrow them (e.g. a TextIOWrapper, never None).
    @property
    def stdout(self) -> IO[str] | None: ...

    @property
    def stderr(self) -> IO[str] | None: ...

    @property
    def returncode(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def poll(self) -> int | None: ...

    def kill(self) -> None: ...


class ClusterBackend(ABC):
    name: str

    @abstractmethod
    def up(
        self, spec: ClusterSpec, *, cleanup_on_failure: bool = True, step: Step | None = None
    ) -> ClusterStatus:
        """Create every object of the spec and wait until the node pods are Ready and the hostfile exists.

        On failure what this call created is removed again (nothing half-made is left behind) unless
        `cleanup_on_failure` is False: then it stays for a look at the broken pods."""

    @abstractmethod
    def status(self, name: str) -> ClusterStatus: ...

    @abstractmethod
    def down(self, name: str) -> list[str]:
        """Remove everything of cluster `name` (idempotent); return what was removed."""

    @abstractmethod
    def spec(self, name: str) -> ClusterSpec:
        """The spec a running cluster was made from."""

    @abstractmethod
    def login_exec(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None) -> JobProcess:
        """Start argv in the login pod as the unprivileged user; stdout and stderr are piped."""

    @abstractmethod
    def node_exec(
        self, name: str, node: str, argv: Sequence[str], *, timeout: float = 600
    ) -> tuple[int, str]:
        """Run argv in one node pod as the unprivileged user; return (status, output)."""

    @abstractmethod
    def deliver_image(self, name: str, image: str, *, step: Step | None = None) -> str:
        """Make `image` runnable by every node's inner engine; return the reference to use there."""

    @abstractmethod
    def deliver_binaries(self, name: str, image: str, *, step: Step | None = None) -> str:
        """Copy the APP's /usr/local into every node (for native runs), with the libraries its programs
        need that the REC lacks in NATIVE_LIB_DIR where the backend can; return its bin directory there."""
