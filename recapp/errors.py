"""One base error, one subclass per room. Messages are one line naming the thing at fault."""

from __future__ import annotations


class RecappError(Exception):
    """Base of every error recapp reports to a user. The CLI prints it as one line and exits 2."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, log_path: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.log_path = log_path


class HostError(RecappError):
    """The host cannot do what was asked (engine missing, user namespaces off, …)."""


class RecipeError(RecappError):
    """A recipe is malformed, names an unknown suite/field/version, or cannot be rendered."""


class WorkloadError(RecappError):
    """A workload folder is incomplete or malformed, or a workload name is unknown."""


class BuildError(RecappError):
    """An image could not be built, imported or inspected."""


class ClusterError(RecappError):
    """A virtual cluster could not be created, reached, used or removed."""


class ClusterUnreachable(ClusterError):
    """The cluster does not answer for now (its API server, or a node's kubelet behind it, is away:
    a restart): retrying later may work, unlike a refusal."""


class Interrupted(ClusterError):
    """The user stopped a command half way (Ctrl-C): one line saying what is left and how to go on."""

    exit_code = 130  # 128 + SIGINT, as shells report it


class JobError(ClusterError):
    """A job ran but failed: non-zero exit, lost node, timeout or failed verification."""


class ConformanceError(RecappError):
    """The conformance suite could not run (not: a check failed — that is a test result)."""


class ReportError(RecappError):
    """A result record is missing or does not match the schema."""
