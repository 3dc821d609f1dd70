"""Recipe → image: render, build through a backend, read versions, label, record.

Nothing is tagged until the image is complete: the recipe image is built untagged, probed, then a
label-only layer on top of it takes the tag. A failure removes the untagged parts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from recapp.builder import labels as L
from recapp.builder import probe, records
from recapp.builder.backends import get_backend
from recapp.builder.backends.base import BuildBackend
from recapp.builder.base import base_tag, build_base
from recapp.builder.recipe import load, recipe_name
from recapp.builder.records import BuildRecord
from recapp.builder.render import render
from recapp.builder.suites import check_suite
from recapp.errors import BuildError, RecappError
from recapp.host.paths import sub

Step = Callable[[str], None]


def default_tag(kind: str, suite: str, workload: str | None) -> str:
    if kind == "rec":
        return f"localhost/recapp/rec:{suite}"
    return f"localhost/recapp/app-{workload or 'mpi'}:{suite}"


def label_containerfile(parent_id: str, version_labels: dict[str, str]) -> str:
    lines = [f"FROM {parent_id}"]
    for key in sorted(version_labels):
        lines.append(f"LABEL {key}={json.dumps(version_labels[key])}")
    return "\n".join(lines) + "\n"


def build_image(
    kind: str,
    suite: str,
    *,
    workload: str | None = None,
    backend_name: str = "buildah",
    tag: str | None = None,
    base_image: str | None = None,
    force: bool = False,
    step: Step | None = None,
    on_line: Step | None = None,
) -> BuildRecord:
    say = step or (lambda _text: None)
    started = time.monotonic()
    check_suite(suite)
    if kind == "rec" and workload:
        raise RecappError("--workload applies to APP images only")
    recipe = load(recipe_name(kind, workload))
    recipe.suite_entry(suite)  # unsupported suite → one clear line before any work
    backend = get_backend(backend_name)
    tag = tag or default_tag(kind, suite, recipe.workload)

    base_ref, base_id = _base(backend, suite, base_image, say, on_line)
    context = render(recipe, suite, base_ref, base_id)
    digest = context.digest

    existing = backend.inspect(tag)
    if existing and existing.labels.get(L.RECIPE_HASH) == digest and not force:
        say(f"{tag} is up to date")
        cached = records.load(tag)
        if cached and cached.id == existing.id:
            return cached.model_copy(update={"cached": True, "seconds": time.monotonic() - started})
        return _record(
            backend,
            tag,
            existing.id,
            recipe.name,
            digest,
            kind,
            suite,
            recipe.workload,
            base_ref,
            L.versions_from_labels(existing.labels),
            {},
            time.monotonic() - started,
            None,
            None,
            cached=True,
        )

    say(f"checking {len(recipe.packages_for(suite))} packages against {base_ref}")
    probe.check_packages_exist(backend, base_ref, recipe, suite)

    log_path = sub("logs") / f"build-{recipe.name}-{suite}.log"
    log_path.write_text("")
    context_dir = context.write(sub("contexts"))
    user = f"{recipe.user.uid}:{recipe.user.gid}"
    recipe_lbls = L.recipe_labels(
        recipe=recipe.name,
        digest=digest,
        kind=kind,
        suite=suite,
        workload=recipe.workload,
        base=base_ref,
        user=user,
        summary=recipe.summary,
    )
    say(f"building {recipe.name} for {suite} with {backend.name}")
    inner_id = backend.build(context_dir, tag=None, labels=recipe_lbls, log_path=log_path, on_line=on_line)
    try:
        say("reading versions from the image")
        packages = probe.installed_packages(backend, inner_id)
        versions = probe.component_versions(backend, inner_id, recipe, packages)
        label_dir = sub("contexts") / f"{context_dir.name}-labels"
        label_dir.mkdir(exist_ok=True)
        (label_dir / "Containerfile").write_text(
            label_containerfile(inner_id, {L.version_label(k): v for k, v in versions.items()})
        )
        say(f"labelling {tag}")
        final_id = backend.build(label_dir, tag=tag, labels={}, log_path=log_path, on_line=on_line)
    except RecappError:
        backend.remove(inner_id)
        raise
    except Exception as exc:
        backend.remove(inner_id)
        raise BuildError(f"build {tag}: {type(exc).__name__}: {exc}", log_path=str(log_path)) from exc
    if existing and existing.id != final_id:
        backend.remove(existing.id)  # the superseded image, now untagged; kept if something uses it
    record = _record(
        backend,
        tag,
        final_id,
        recipe.name,
        digest,
        kind,
        suite,
        recipe.workload,
        base_ref,
        versions,
        packages,
        time.monotonic() - started,
        str(log_path),
        str(context_dir),
    )
    records.save(record)
    return record


def _base(
    backend: BuildBackend, suite: str, base_image: str | None, say: Step, on_line: Step | None
) -> tuple[str, str]:
    if base_image:
        info = backend.inspect(base_image)
        if info is None:
            raise BuildError(f"base image {base_image!r} not found in the local image store")
        return base_image, info.id
    ref = base_tag(suite)
    info = backend.inspect(ref)
    if info is None:
        say(f"making base image {ref} from Debian's archive")
        build_base(suite, on_line=on_line)
        info = backend.inspect(ref)
        if info is None:
            raise BuildError(f"base image {ref} was imported but the {backend.name} engine does not see it")
    return ref, info.id


def _record(
    backend: BuildBackend,
    tag: str,
    image_id: str,
    recipe: str,
    digest: str,
    kind: str,
    suite: str,
    workload: str | None,
    base: str,
    versions: dict[str, str],
    packages: dict[str, str],
    seconds: float,
    log_path: str | None,
    context_dir: str | None,
    *,
    cached: bool = False,
) -> BuildRecord:
    info = backend.inspect(image_id)
    return BuildRecord(
        tag=tag,
        id=image_id,
        kind=kind,
        recipe=recipe,
        recipe_hash=digest,
        suite=suite,
        workload=workload,
        backend=backend.name,
        base=base,
        size_bytes=info.size if info else 0,
        versions=versions,
        packages=packages,
        seconds=round(seconds, 2),
        cached=cached,
        log_path=log_path,
        context_dir=context_dir,
    )


def context_dir_for(record: BuildRecord) -> Path | None:
    return Path(record.context_dir) if record.context_dir else None
