"""Labels, the label-only Containerfile, Debian→upstream versions, build records and base-image argv."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recapp import __version__
from recapp.builder import records
from recapp.builder.base import base_tag, import_argv, mmdebstrap_argv
from recapp.builder.build import default_tag, label_containerfile
from recapp.builder.records import BuildRecord
from recapp.host import labels as L


@pytest.mark.parametrize(
    ("debian", "upstream"),
    [
        ("1:4.17.4-2+deb13u1", "4.17.4"),
        ("7.0.0~rc1-2+b1", "7.0.0~rc1"),
        ("5.0.7-1", "5.0.7"),
        ("4.2.2-1+deb12u1", "4.2.2"),
        ("6.0.0~rc2-1", "6.0.0~rc2"),
        ("2:1.2-3-4", "1.2-3"),  # only the last hyphen starts the Debian revision
        ("20250419", "20250419"),  # native package: no revision
        (" 5.4.2+ds1-2 \n", "5.4.2+ds1"),
    ],
)
def test_upstream_version(debian: str, upstream: str) -> None:
    assert L.upstream_version(debian) == upstream


def test_label_names() -> None:
    assert L.RECIPE_HASH == "io.recapp.recipe-hash"
    assert L.version_label("pmix") == "io.recapp.version.pmix"


def test_versions_from_labels() -> None:
    labels = {
        "io.recapp.version.pmix": "5.0.7",
        "io.recapp.version.prrte": "3.0.8",
        "io.recapp.kind": "rec",
        "org.opencontainers.image.version": "0.1.0",
    }
    assert L.versions_from_labels(labels) == {"pmix": "5.0.7", "prrte": "3.0.8"}


def test_recipe_labels() -> None:
    common = {
        "recipe": "app-mpi",
        "digest": "d" * 64,
        "kind": "app",
        "suite": "sid",
        "base": "localhost/recapp/base:sid",
        "user": "1000:1000",
        "summary": "Open MPI library",
    }
    labels = L.recipe_labels(workload="mpi", **common)
    assert labels == {
        "io.recapp.recipe": "app-mpi",
        "io.recapp.recipe-hash": "d" * 64,
        "io.recapp.kind": "app",
        "io.recapp.suite": "sid",
        "io.recapp.base": "localhost/recapp/base:sid",
        "io.recapp.user": "1000:1000",
        "io.recapp.workload": "mpi",
        "org.opencontainers.image.title": "recapp app-mpi (sid)",
        "org.opencontainers.image.description": "Open MPI library",
        "org.opencontainers.image.vendor": "recapp",
        "org.opencontainers.image.version": __version__,
    }
    assert "io.recapp.workload" not in L.recipe_labels(workload=None, **common)


def test_label_containerfile() -> None:
    text = label_containerfile(
        "e66bcf4bd8dc",
        {"io.recapp.version.prrte": "3.0.8", "io.recapp.version.pmix": "7.0.0~rc1", "x.quote": 'a "b"'},
    )
    assert text == (
        "FROM e66bcf4bd8dc\n"
        'LABEL io.recapp.version.pmix="7.0.0~rc1"\n'
        'LABEL io.recapp.version.prrte="3.0.8"\n'
        'LABEL x.quote="a \\"b\\""\n'
    )


def test_label_containerfile_without_versions() -> None:
    assert label_containerfile("abc", {}) == "FROM abc\n"


@pytest.mark.parametrize(
    ("kind", "suite", "workload", "tag"),
    [
        ("rec", "trixie", None, "localhost/recapp/rec:trixie"),
        ("app", "sid", None, "localhost/recapp/app-mpi:sid"),
        ("app", "bookworm", "nas", "localhost/recapp/app-nas:bookworm"),
        ("app", "trixie", "gromacs", "localhost/recapp/app-gromacs:trixie"),
        ("aio", "trixie", None, "localhost/recapp/aio:trixie"),
    ],
)
def test_default_tag(kind: str, suite: str, workload: str | None, tag: str) -> None:
    assert default_tag(kind, suite, workload) == tag


def test_mmdebstrap_argv() -> None:
    argv = mmdebstrap_argv("sid")
    assert argv[0] == "mmdebstrap"
    assert "--variant=minbase" in argv
    assert '--aptopt=Acquire::Check-Valid-Until "false"' in argv
    assert "--skip=cleanup/apt/lists" in argv, "base images keep their apt lists (the archive snapshot)"
    assert argv[-3:] == ["sid", "-", "http://deb.debian.org/debian"]


def test_import_argv() -> None:
    assert base_tag("trixie") == "localhost/recapp/base:trixie"
    argv = import_argv("trixie", base_tag("trixie"))
    assert argv[:2] == ["podman", "import"]
    assert argv[-2:] == ["-", "localhost/recapp/base:trixie"]
    changes = [argv[i + 1] for i, a in enumerate(argv) if a == "--change"]
    assert changes == [
        "LABEL io.recapp.kind=base",
        "LABEL io.recapp.suite=trixie",
        "LABEL io.recapp.created-by=recapp base",
        'CMD ["/bin/bash"]',
        "ENV LANG=C.UTF-8",
    ]


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RECAPP_HOME", str(tmp_path))
    return tmp_path


def make_record(**overrides: object) -> BuildRecord:
    data: dict[str, object] = {
        "tag": "localhost/recapp/rec:trixie",
        "id": "e66bcf4bd8dc" + "0" * 52,
        "kind": "rec",
        "recipe": "rec",
        "recipe_hash": "d" * 64,
        "suite": "trixie",
        "backend": "buildah",
        "base": "localhost/recapp/base:trixie",
        "size_bytes": 705812918,
        "versions": {"pmix": "5.0.7", "prrte": "3.0.8", "podman": "5.4.2"},
        "packages": {"libpmix2t64": "5.0.7-1"},
        "seconds": 71.89,
    }
    data.update(overrides)
    return BuildRecord.model_validate(data)


def test_record_round_trip(state: Path) -> None:
    record = make_record()
    path = records.save(record)
    assert path == state / "records" / "builds" / "localhost_recapp_rec_trixie.json"
    assert json.loads(path.read_text())["schema_version"] == records.SCHEMA_VERSION == 1
    assert records.load("localhost/recapp/rec:trixie") == record


def test_record_paths_do_not_collide_or_escape(state: Path) -> None:
    a = records.record_path("localhost/recapp/app-mpi:sid")
    b = records.record_path("localhost/recapp/app-mpi:trixie")
    evil = records.record_path("../../../etc/passwd")
    assert a != b
    assert a.parent == b.parent == evil.parent == state / "records" / "builds"
    assert evil.name == ".._.._.._etc_passwd.json"  # one file name, no separators


def test_missing_or_broken_record_is_none(state: Path) -> None:
    assert records.load("localhost/recapp/rec:sid") is None
    records.record_path("localhost/recapp/rec:sid").write_text('{"tag": "truncated')
    assert records.load("localhost/recapp/rec:sid") is None
    records.record_path("localhost/recapp/rec:sid").write_text('{"tag": "x"}')
    assert records.load("localhost/recapp/rec:sid") is None
