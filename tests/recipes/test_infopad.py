"""infopad.c, the REC's guard for PRRTE 3.0.x's connect_release, which destructs info[1] of an array
PMIx_Info_create made with one entry (issue 19, docs/compat-levels.md finding 15).

The REC's library (killguard.c + infopad.c, compiled here with the REC stage's flags) is preloaded
into a program linked against a stand-in libpmix whose PMIx_Info_create records what it was asked
for and returns a block of exactly that many entries, the way PMIx 5 does; the program asks for the
one-entry array connect_release asks for and reports how much of it is usable (info[1] and its value
must fit for that function's destruct of info[1] to stay inside it)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FILES = Path(__file__).resolve().parents[2] / "recipes" / "files" / "rec"
INFO_SIZE = 552  # sizeof(pmix_info_t) in PMIx 5 on x86_64 (0x228 in Debian's libprrte.so.3.0.8)

FAKE_PMIX = r"""
#include <stdio.h>
#include <stdlib.h>
void *PMIx_Info_create(size_t n)
{
    fprintf(stderr, "asked %zu\n", n);
    return n ? calloc(n, %d) : NULL;
}
""".replace("%d", str(INFO_SIZE))

# connect_release's PMIx_Info_create(ninfo = 1), and an empty array (which must stay NULL).
CONNECT = r"""
#include <malloc.h>
#include <stdio.h>
void *PMIx_Info_create(size_t n);
int main(void)
{
    char *info = PMIx_Info_create(1);
    printf("usable %zu\n", malloc_usable_size(info));
    printf("none %s\n", PMIx_Info_create(0) == NULL ? "null" : "block");
    return 0;
}
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed on this host (the REC compiles infopad.c in a build stage)")
    d = tmp_path_factory.mktemp("infopad")
    (d / "pmix.c").write_text(FAKE_PMIX)
    (d / "connect.c").write_text(CONNECT)
    flags = ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-Werror"]  # as the REC's killguard stage
    guard = d / "libkillguard.so"
    sources = [str(FILES / "killguard.c"), str(FILES / "infopad.c")]
    subprocess.run(["gcc", *flags, "-o", str(guard), *sources, "-ldl"], check=True)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(d / "libpmix.so"), str(d / "pmix.c")], check=True)
    link = [f"-L{d}", "-lpmix", f"-Wl,-rpath,{d}"]
    subprocess.run(["gcc", "-o", str(d / "connect"), str(d / "connect.c"), *link], check=True)
    return {"guard": guard, "connect": d / "connect"}


def _connect(built: dict[str, Path], preload: bool) -> tuple[list[str], list[str]]:
    env = {"PATH": "/usr/bin:/bin", **({"LD_PRELOAD": str(built["guard"])} if preload else {})}
    done = subprocess.run([str(built["connect"])], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[:2], done.stderr.split("\n")[:-1]


def test_without_the_guard_info_1_lies_past_the_block(built: dict[str, Path]) -> None:
    (usable, none), asked = _connect(built, preload=False)
    assert asked == ["asked 1", "asked 0"]
    assert int(usable.split()[1]) < 2 * INFO_SIZE  # &info[1] + its value is another object's memory
    assert none == "none null"


def test_with_the_guard_every_array_has_one_empty_entry_more(built: dict[str, Path]) -> None:
    (usable, none), asked = _connect(built, preload=True)
    assert asked == ["asked 2", "asked 0"]  # n + 1; an empty array stays empty
    assert int(usable.split()[1]) >= 2 * INFO_SIZE
    assert none == "none null"
