"""How the node package is laid out in a REC: a copy of its sources and one thin entry point per program.

Below the REC's prefix (/usr/local):

    bin/recapp-agent, bin/recapp-launch, ...   entry points (the names PRRTE, the pod objects and
                                               `recapp-agent serve` in the image's CMD use)
    lib/recapp/python/recapp/node/...          this package's .py files, byte for byte

recapp's builder puts `tree()` into the build context, so the image, like the context hash, follows
the sources exactly (no timestamps, no bytecode). An entry point finds the package relative to its
own real path, so the same tree also runs from a scratch prefix (the tests do that) under any
Python >= 3.11 on the machine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

PREFIX: Final = "/usr/local"  # where the REC installs tree()
LIB_DIR: Final = "lib/recapp/python"  # below PREFIX; holds recapp/node/
BIN_DIR: Final = "bin"
PACKAGE: Final = "recapp.node"  # the import name the entry points use in the REC

# program -> the module (below the package) whose main(argv) -> int it runs
PROGRAMS: Final = {
    "recapp-agent": "agent.main",
    "recapp-launch": "launch",
    "recapp-kubexec": "kubexec",
    "recapp-wait-nodes": "wait_nodes",
}

ENTRY_POINT = '''#!/usr/bin/python3
"""{program}: runs {module}.main from recapp's node package; written by recapp's builder."""

import os
import sys

# The package lives beside bin/ under the same prefix: <prefix>/{lib_dir}/{package_dir}/.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), os.pardir, *{lib_parts!r}))

from {module} import main  # noqa: E402

sys.exit(main(sys.argv[1:]))
'''


def package_root() -> Path:
    return Path(__file__).resolve().parent


def sources() -> dict[str, bytes]:
    """This package's .py files as `recapp/node/<path>` → content, sorted (no bytecode, no caches)."""
    root = package_root()
    package_dir = PACKAGE.replace(".", "/")
    files = sorted(path for path in root.rglob("*.py") if "__pycache__" not in path.parts)
    return {f"{package_dir}/{path.relative_to(root).as_posix()}": path.read_bytes() for path in files}


def entry_point(program: str) -> str:
    """The text of bin/<program>."""
    if program not in PROGRAMS:
        raise ValueError(f"unknown node program {program!r} (known: {', '.join(sorted(PROGRAMS))})")
    return ENTRY_POINT.format(
        program=program,
        module=f"{PACKAGE}.{PROGRAMS[program]}",
        lib_dir=LIB_DIR,
        package_dir=PACKAGE.replace(".", "/"),
        lib_parts=tuple(LIB_DIR.split("/")),
    )


def tree(programs: list[str] | None = None) -> dict[str, tuple[bytes, int]]:
    """Relative path below PREFIX → (content, mode) for the package and the programs' entry points."""
    out: dict[str, tuple[bytes, int]] = {
        f"{LIB_DIR}/{rel}": (content, 0o644) for rel, content in sources().items()
    }
    for program in sorted(PROGRAMS if programs is None else programs):
        out[f"{BIN_DIR}/{program}"] = (entry_point(program).encode(), 0o755)
    return out


def install(prefix: Path, programs: list[str] | None = None) -> dict[str, Path]:
    """Write tree() below prefix; program → its entry point's path (for a scratch prefix in tests)."""
    for rel, (content, mode) in tree(programs).items():
        path = prefix / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(mode)
    return {program: prefix / BIN_DIR / program for program in (PROGRAMS if programs is None else programs)}
