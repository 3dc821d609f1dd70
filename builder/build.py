"""Recipe → image: render, build through a backend, read versions, label, record.

Nothing is tagged until the image is complete: the recipe image is built untagged, probed, then a
label-only layer on top of it takes the tag. A failure removes the untagged parts.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from recapp.builder import fetch, npb, preflight, probe, records, source
from recapp.builder.backends import get_backend
from recapp.builder.backends.base import BuildBackend
from recapp.builder.base import base_tag, build_base
from recapp.builder.npb import NpbRequest
from recapp.builder.recipe import Recipe, load, recipe_name
from recapp.builder.records import BuildRecord
from recapp.builder.render import render
from recapp.builder.suites import check_suite
from recapp.errors import BuildError, RecappError, RecipeError
from recapp.host import labels as L
from recapp.host.paths import sub
from recapp.host.progress import Step

STEP_RE = re.compile(r"^\[recapp-step\] (\S+) (\S+): exit (\d+) after (\d+) s")


def default_tag(
    kind: str, suite: str, workload: str | None, components: list[source.SourceComponent] | None = None
) -> str:
    """`localhost/recapp/rec:trixie`; a source build names its recipe and component releases:
    `localhost/recapp/rec-source:bookworm-pmix5.0.5-prrte3.0.8`."""
    if components:
        name = "rec-source" if kind == "rec" else f"app-{workload or 'mpi'}-source"
        return f"localhost/recapp/{name}:{suite}-{source.tag_suffix(components)}"
    if kind in ("rec", "aio"):
        return f"localhost/recapp/{kind}:{suite}"
    return f"localhost/recapp/app-{workload or 'mpi'}:{suite}"


def step_status(line: str) -> str | None:
    """`[recapp-step] ompi make: start` → `ompi make: start` (the status line); None for other lines."""
    return line.removeprefix("[recapp-step] ") if line.startswith("[recapp-step] ") else None


def step_seconds(log_text: str) -> dict[str, float]:
    """`[recapp-step] pmix make: exit 0 after 312 s` lines → {'pmix make': 312.0} (successful steps)."""
    steps: dict[str, float] = {}
    for line in log_text.splitlines():
        match = STEP_RE.match(line.strip())
        if match and match.group(3) == "0":
            steps[f"{match.group(1)} {match.group(2)}"] = float(match.group(4))
    return steps


def source_summary(components: list[source.SourceComponent]) -> dict[str, dict[str, str]]:
    return {
        c.name: {
            "version": c.version,
            "origin": c.origin,
            "archive": c.archive,
            "sha256": c.sha256,
            "configure": " ".join(c.configure),
        }
        for c in components
    }


def source_stack(
    recipe: Recipe,
    versions: dict[str, str | None] | None,
    sources: str,
    configure: dict[str, list[str]] | None,
) -> list[source.SourceComponent]:
    """A source recipe's components with the chosen releases, checked by the preflight rules.
    Pure and fast: runs before the base image, any download or any compile."""
    if recipe.flavor != "source":
        given = [f"--{k}" for k, v in (versions or {}).items() if v] + (["--configure"] if configure else [])
        if given:
            raise RecipeError(f"{', '.join(given)}: only for --flavor source")
        return []
    origin = "upstream" if sources == "upstream" else "debian"
    components = source.with_configure(source.stack(recipe, versions or {}, origin), configure or {})
    preflight.check(source.facts(components))
    return components


def label_containerfile(parent_id: str, version_labels: dict[str, str]) -> str:
    lines = [f"FROM {parent_id}"]
    for key in sorted(version_labels):
        lines.append(f"LABEL {key}={json.dumps(version_labels[key])}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class BuildRequest:
    """What to build: a recipe (kind, suite, workload, flavor), its source choices, where and how."""

    kind: str
    suite: str
    workload: str | None = None
    flavor: str = "distro"
    versions: dict[str, str | None] | None = None  # source flavor: pmix/prrte/ompi releases
    sources: str = "debian"
    configure: dict[str, list[str]] | None = None  # source flavor: extra configure options per component
    backend_name: str = "buildah"
    tag: str | None = None
    base_image: str | None = None
    force: bool = False
    npb: NpbRequest | None = None  # nas APP: the official NPB from the user's tarball


@dataclass(frozen=True)
class Built:
    """What a build (or the cache) produced: the image and what was read from it."""

    tag: str
    image_id: str
    digest: str
    base: str
    versions: dict[str, str]
    packages: dict[str, str] = field(default_factory=dict)
    log_path: str | None = None
    context_dir: str | None = None
    steps: dict[str, float] = field(default_factory=dict)
    cached: bool = False


def build_image(req: BuildRequest, *, step: Step | None = None, on_line: Step | None = None) -> BuildRecord:
    say = step or (lambda _text: None)
    started = time.monotonic()
    suite = req.suite
    check_suite(suite)
    if req.kind != "app" and req.workload:
        raise RecappError("--workload applies to APP images only")
    recipe = load(recipe_name(req.kind, req.workload, req.flavor))
    recipe.suite_entry(suite)  # unsupported suite → one clear line before any work
    # preflight: before the base image, any download or any compile
    components = source_stack(recipe, req.versions, req.sources, req.configure)
    # The official NPB: the tarball's sha256 and layout are checked here, before anything is made.
    npb_build = npb.prepare(req.npb, fetch.cache_dir) if req.npb else None
    if npb_build is not None:
        recipe = npb.recipe_for(recipe, npb_build)
    backend = get_backend(req.backend_name)
    if npb_build is not None:
        tag = req.tag or npb.default_tag(suite, npb_build)
    else:
        tag = req.tag or default_tag(req.kind, suite, recipe.workload, components)
    # From here on the kind is the recipe's: the all-in-one image is labelled and recorded as a REC.
    kind = recipe.kind
    sources = source_summary(components)

    base_ref, base_id = _base(backend, suite, req.base_image, say, on_line)
    archives = fetch.archives(components, req.sources, say) if components else {}
    context = render(recipe, suite, base_ref, base_id, components, archives, npb_build)
    digest = context.digest

    existing = backend.inspect(tag)
    if existing and existing.labels.get(L.RECIPE_HASH) == digest and not req.force:
        say(f"{tag} is up to date")
        cached = records.load(tag)
        if cached and cached.id == existing.id:
            return cached.model_copy(update={"cached": True, "seconds": time.monotonic() - started})
        built = Built(
            tag, existing.id, digest, base_ref, L.versions_from_labels(existing.labels), cached=True
        )
        return _record(backend, req, recipe, built, time.monotonic() - started, sources)

    say(f"checking {len(recipe.packages_for(suite))} packages against {base_ref}")
    probe.check_packages_exist(backend, base_ref, recipe, suite)
    if components:
        missing = probe.missing_packages(backend, base_ref, source.catalog().build_packages)
        if missing:
            raise RecipeError(
                f"{source.COMPONENTS_FILE.name}: build_packages not in the package lists of {base_ref}: "
                f"{', '.join(missing)}"
            )

    log_name = tag.rsplit("/", 1)[-1].replace(":", "-")
    log_path = sub("logs") / f"build-{log_name}.log"
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

    def line(text: str) -> None:
        # Source builds: the configure/make/install step in progress becomes the status line.
        status = step_status(text)
        if status is not None:
            say(status)
        elif on_line:
            on_line(text)

    inner_id = backend.build(context_dir, tag=None, labels=recipe_lbls, log_path=log_path, on_line=line)
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
    built = Built(
        tag,
        final_id,
        digest,
        base_ref,
        versions,
        packages,
        str(log_path),
        str(context_dir),
        steps=step_seconds(log_path.read_text(errors="replace")),
    )
    record = _record(backend, req, recipe, built, time.monotonic() - started, sources)
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
    req: BuildRequest,
    recipe: Recipe,
    built: Built,
    seconds: float,
    sources: dict[str, dict[str, str]],
) -> BuildRecord:
    info = backend.inspect(built.image_id)
    return BuildRecord(
        tag=built.tag,
        id=built.image_id,
        kind=recipe.kind,
        recipe=recipe.name,
        recipe_hash=built.digest,
        suite=req.suite,
        workload=recipe.workload,
        backend=backend.name,
        base=built.base,
        size_bytes=info.size if info else 0,
        versions=built.versions,
        packages=built.packages,
        seconds=round(seconds, 2),
        cached=built.cached,
        log_path=built.log_path,
        context_dir=built.context_dir,
        sources=sources,
        steps=built.steps,
    )


def context_dir_for(record: BuildRecord) -> Path | None:
    return Path(record.context_dir) if record.context_dir else None
