"""`recapp build rec|app`: one image from its recipe."""

from __future__ import annotations

from typing import Annotated

import typer

from recapp.builder.backends import BACKENDS
from recapp.builder.build import BuildRequest, build_image
from recapp.builder.npb import NpbRequest
from recapp.builder.recipe import IMAGE_KINDS
from recapp.cli.ui import console, print_json, print_table, progress
from recapp.errors import RecappError
from recapp.host.names import check_image_ref


def build(
    kind: Annotated[str, typer.Argument(help="rec, app, or aio (the traditional all-in-one image)")],
    suite: Annotated[str, typer.Option(help="Debian suite: bookworm, trixie or sid")] = "trixie",
    workload: Annotated[
        str | None, typer.Option(help="APP workload (recipe app-WORKLOAD), default mpi")
    ] = None,
    flavor: Annotated[
        str,
        typer.Option(help="distro: the suite's packages; source: PMIx/PRRTE/Open MPI from pinned releases"),
    ] = "distro",
    pmix: Annotated[str | None, typer.Option(help="source flavor: PMIx release (pinned)")] = None,
    prrte: Annotated[str | None, typer.Option(help="source flavor: PRRTE release (REC)")] = None,
    ompi: Annotated[str | None, typer.Option(help="source flavor: Open MPI release (APP)")] = None,
    sources: Annotated[
        str,
        typer.Option(help="source flavor: where tarballs come from: debian, upstream, or a directory"),
    ] = "debian",
    configure: Annotated[
        list[str] | None,
        typer.Option(help="source flavor: extra configure option, COMPONENT:OPTION (repeatable)"),
    ] = None,
    backend: Annotated[str, typer.Option(help=f"build backend: {' or '.join(BACKENDS)}")] = "buildah",
    tag: Annotated[
        str | None,
        typer.Option(help="image tag (default localhost/recapp/rec|aio:SUITE or app-WORKLOAD:SUITE)"),
    ] = None,
    base_image: Annotated[str | None, typer.Option(help="use this local image as base instead")] = None,
    force: Annotated[bool, typer.Option("--force", help="rebuild even when the recipe is unchanged")] = False,
    npb_tarball: Annotated[
        str | None,
        typer.Option(help="--workload nas: the official NPB 3.4.x tarball (path or http(s) URL) to build"),
    ] = None,
    npb_sha256: Annotated[
        str | None, typer.Option(help="the NPB tarball's sha256 (required with --npb-tarball)")
    ] = None,
    npb_benchmarks: Annotated[
        list[str] | None, typer.Option(help="NPB benchmarks to build, e.g. ep,cg (default ep; repeatable)")
    ] = None,
    npb_classes: Annotated[
        list[str] | None, typer.Option(help="NPB classes to build, e.g. S,A (default S; repeatable)")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print the build record as JSON")] = False,
) -> None:
    """Build a REC, APP or all-in-one image from its recipe (an unchanged recipe and base is not rebuilt)."""
    if kind not in IMAGE_KINDS:
        raise RecappError(f"unknown image kind {kind!r}: choose rec, app or aio")
    for option, ref in (("--tag", tag), ("--base-image", base_image)):
        if ref is not None:
            check_image_ref(ref, error=RecappError, what=option)
    if kind == "app" and workload is None:
        workload = "mpi"
    npb = None
    if npb_tarball is not None or npb_sha256 is not None or npb_benchmarks or npb_classes:
        if npb_tarball is None or npb_sha256 is None:
            raise RecappError("--npb-tarball and --npb-sha256 go together (the tarball and its sha256)")
        chosen = (tuple(npb_benchmarks or ["ep"]), tuple(npb_classes or ["S"]))
        npb = NpbRequest(npb_tarball, npb_sha256, *chosen)
    extra: dict[str, list[str]] = {}
    for item in configure or []:
        name, sep, option = item.partition(":")
        if not sep or not option:
            raise RecappError(f"--configure {item!r}: give COMPONENT:OPTION, e.g. ompi:--enable-debug")
        extra.setdefault(name, []).append(option)
    with progress(f"build {kind} {suite}") as prog:
        req = BuildRequest(
            kind,
            suite,
            workload=workload,
            flavor=flavor,
            versions={"pmix": pmix, "prrte": prrte, "ompi": ompi},
            sources=sources,
            configure=extra,
            backend_name=backend,
            tag=tag,
            base_image=base_image,
            force=force,
            npb=npb,
        )
        record = build_image(req, step=prog.step, on_line=prog.line)
    if json_out:
        print_json(record.model_dump())
        return
    state = "cached" if record.cached else f"built in {record.seconds:.0f} s"
    console.print(f"{record.tag}: {state}, {record.size_bytes / 1e6:.0f} MB", markup=False)
    print_table(["component", "version"], sorted(record.versions.items()))
    if record.steps:
        print_table(["step", "seconds"], list(record.steps.items()), title="source build steps")
