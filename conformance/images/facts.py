"""Pure extractors over captured command output, tested without containers."""

from __future__ import annotations

import re

LAUNCHERS = ("mpirun", "mpiexec", "orterun", "orted", "prterun", "prted", "prte", "prun", "srun")
SSH_DAEMONS = ("sshd",)


def numeric_core(version: str) -> str:
    """'5.0.7a1' → '5.0.7'; '7.0.0~rc1' → '7.0.0'; '5.0.0rc1' → '5.0.0'."""
    match = re.match(r"(\d+(?:\.\d+)*)", version.strip())
    return match.group(1) if match else ""


def pmix_info_version(output: str) -> str | None:
    """The library version `pmix_info` reports (`PMIX: 5.0.7a1` in 5.x, `PMIx: 7.0.0rc1` in 7.x)."""
    match = re.search(r"^\s*PMIX:\s*(\S+)", output, re.MULTILINE | re.IGNORECASE)
    return match.group(1) if match else None


def prrte_version(output: str) -> str | None:
    """`prterun (PRRTE) 3.0.8` → '3.0.8'."""
    match = re.search(r"\(PRRTE\)\s+(\S+)", output)
    return match.group(1) if match else None


def pmix_probe_client_version(output: str) -> str | None:
    """The client library version `pmix_probe` reports even without a server:
    `client_version="OpenPMIx 5.0.7a1 (PMIx Standard: 5.1, …)"` → '5.0.7a1'."""
    match = re.search(r'client_version="OpenPMIx\s+(\S+)', output)
    return match.group(1) if match else None


def ompi_singleton_needs_orted(output: str) -> bool:
    """Open MPI 4 (ORTE) singletons exec `orted`; without it MPI_Init fails in ess/singleton."""
    return "ess_singleton" in output and "system-required executable" in output


def ldd_missing(output: str) -> list[str]:
    return [line.split()[0] for line in output.splitlines() if "not found" in line]


def ldd_resolves(output: str, soname_prefix: str) -> str | None:
    """The path a library resolves to in `ldd` output (`libpmix.so.2 => /usr/lib/…`), or None."""
    for line in output.splitlines():
        parts = line.split()
        if parts and parts[0].startswith(soname_prefix) and "=>" in parts and "not" not in parts:
            return parts[parts.index("=>") + 1]
    return None


def configure_pmix(cli: str) -> str | None:
    """The value of --with-pmix in an Open MPI configure line ('external', a path, or 'internal')."""
    match = re.search(r"--with-pmix(?:=([^'\s]+))?", cli)
    if match is None:
        return None
    return match.group(1) or "yes"


def configure_prrte(cli: str) -> str | None:
    """How the configure line treats PRRTE: 'no' (--without-prrte / --with-prrte=no), a value, or None."""
    if re.search(r"--without-prrte\b|--with-prrte=no\b|--disable-prrte\b", cli):
        return "no"
    match = re.search(r"--with-prrte(?:=([^'\s]+))?", cli)
    return (match.group(1) or "yes") if match else None


def is_root_user(user: str) -> bool:
    """An image's configured user: '', 'root', '0' or '0:…' mean root."""
    name = user.split(":", 1)[0].strip()
    return name in ("", "root", "0")
