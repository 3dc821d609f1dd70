"""Source components: pinned releases (recipes/source/components.yaml) → the stack a source recipe builds.

Pure: loading the data, choosing releases and deriving the stack's facts touch neither the network
nor the engine, so the preflight rules can refuse a combination before any slow work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from recapp.builder.recipe import Recipe, read_model
from recapp.errors import RecipeError
from recapp.recipes import RECIPES_DIR

COMPONENTS_FILE = RECIPES_DIR / "source" / "components.yaml"
ORIGINS: tuple[str, ...] = ("debian", "upstream")
SHA256_RE = r"^[0-9a-f]{64}$"
# A file name inside a build context and an archive member path: no spaces, no `..`, no leading `/`.
SAFE_NAME_RE = r"^[A-Za-z0-9_][A-Za-z0-9_.+~-]*$"
SAFE_PATH_RE = r"^[A-Za-z0-9_][A-Za-z0-9_.+~/-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DebianSource(Strict):
    """The upstream tarball inside a Debian source package (`apt-get source PACKAGE=VERSION`)."""

    suite: str
    package: str = Field(pattern=r"^[a-z0-9][a-z0-9+.-]+$")
    version: str = Field(pattern=r"^[A-Za-z0-9.+~:-]+$")
    file: str = Field(pattern=SAFE_NAME_RE)
    sha256: str = Field(pattern=SHA256_RE)
    srcdir: str = Field(pattern=SAFE_PATH_RE)


class UpstreamSource(Strict):
    url: str = Field(pattern=r"^https://\S+$")
    file: str = Field(pattern=SAFE_NAME_RE)
    sha256: str = Field(pattern=SHA256_RE)
    srcdir: str = Field(pattern=SAFE_PATH_RE)


class Release(Strict):
    debian: DebianSource | None = None
    upstream: UpstreamSource | None = None


class Component(Strict):
    title: str
    prefix: str = Field(pattern=r"^/opt/[a-z0-9-]+$")
    needs: list[str] = []
    configure: list[str]
    releases: dict[str, Release]


class Catalog(Strict):
    build_packages: list[str]
    components: dict[str, Component]


@cache
def catalog() -> Catalog:
    found = read_model(COMPONENTS_FILE, Catalog)
    for name, comp in found.components.items():
        for need in comp.needs:
            if need not in found.components:
                raise RecipeError(f"{COMPONENTS_FILE.name}: {name} needs unknown component {need!r}")
    return found


@dataclass(frozen=True)
class SourceComponent:
    """One component of a stack: a release, where its tarball comes from, and how it is configured."""

    name: str
    title: str
    version: str
    origin: Literal["debian", "upstream"]
    archive: str
    sha256: str
    srcdir: str
    prefix: str
    configure: tuple[str, ...]
    needs: tuple[SourceComponent, ...]
    debian: DebianSource | None = None
    url: str | None = None

    @property
    def stage(self) -> str:
        """The build-stage name: `pmix-5_0_5` (stage names allow no dots)."""
        return f"{self.name}-{re.sub(r'[^a-z0-9]+', '_', self.version.lower())}"


def choose(recipe: Recipe, overrides: dict[str, str | None]) -> dict[str, str]:
    """The recipe's components → their chosen release, in build order."""
    for name, version in overrides.items():
        if version and name not in recipe.components:
            raise RecipeError(
                f"--{name} {version}: recipe {recipe.name} builds no {name} "
                f"(it builds {', '.join(recipe.components)})"
            )
    return {name: overrides.get(name) or default for name, default in recipe.components.items()}


def stack(recipe: Recipe, overrides: dict[str, str | None], origin: str = "debian") -> list[SourceComponent]:
    """Resolve the recipe's components to pinned releases, in build order. `origin`: debian or
    upstream (a local directory is checked against the same pins as either)."""
    if origin not in ORIGINS:
        raise RecipeError(f"unknown source origin {origin!r}: choose {' or '.join(ORIGINS)}")
    cat = catalog()
    versions = choose(recipe, overrides)
    built: dict[str, SourceComponent] = {}
    for name, version in versions.items():
        comp = cat.components.get(name)
        if comp is None:
            raise RecipeError(f"recipe {recipe.name}: unknown source component {name!r}")
        release = comp.releases.get(version)
        if release is None:
            raise RecipeError(
                f"--{name} {version}: not a pinned {comp.title} release "
                f"(pinned: {', '.join(comp.releases)}; add it to recipes/source/components.yaml)"
            )
        needs = []
        for need in comp.needs:
            if need not in built:
                raise RecipeError(f"recipe {recipe.name}: {name} needs {need}, which is not built before it")
            needs.append(built[need])
        # The asked origin where it is pinned, else the other one: a release no Debian package
        # carries (PRRTE 3.0.0) still builds from its upstream tarball, fetched or in --sources DIR.
        pins = (release.debian, release.upstream)
        src: DebianSource | UpstreamSource | None = (
            pins[0] or pins[1] if origin == "debian" else pins[1] or pins[0]
        )
        if src is None:
            raise RecipeError(f"{comp.title} {version}: no source is pinned")
        built[name] = SourceComponent(
            name=name,
            title=comp.title,
            version=version,
            origin="debian" if isinstance(src, DebianSource) else "upstream",
            archive=src.file,
            sha256=src.sha256,
            srcdir=src.srcdir,
            prefix=comp.prefix,
            configure=tuple(comp.configure),
            needs=tuple(needs),
            debian=src if isinstance(src, DebianSource) else None,
            url=src.url if isinstance(src, UpstreamSource) else None,
        )
    return list(built.values())


def with_configure(components: list[SourceComponent], extra: dict[str, list[str]]) -> list[SourceComponent]:
    """Append user configure arguments (`--configure ompi:--enable-debug`) to their components."""
    names = {c.name for c in components}
    for name in extra:
        if name not in names:
            raise RecipeError(f"--configure {name}:…: this build has no component {name!r}")
    out: list[SourceComponent] = []
    for c in components:
        args = extra.get(c.name, [])
        for arg in args:
            if not re.match(r"^--[a-z0-9][a-z0-9-]*(=[A-Za-z0-9_./,:+-]*)?$", arg):
                raise RecipeError(f"--configure {c.name}:{arg}: not a plain configure option")
        out.append(replace(c, configure=(*c.configure, *args)))
    return out


def configure_options(args: tuple[str, ...]) -> dict[str, str]:
    """`--with-pmix=/opt/pmix` → {'pmix': '/opt/pmix'}; `--without-prrte` → {'prrte': 'no'};
    later arguments win, as in autoconf."""
    options: dict[str, str] = {}
    for arg in args:
        if match := re.match(r"^--without-([a-z0-9-]+)$", arg):
            options[match.group(1)] = "no"
        elif match := re.match(r"^--with-([a-z0-9-]+)(?:=(.*))?$", arg):
            options[match.group(1)] = match.group(2) if match.group(2) is not None else "yes"
    return options


def _kind(value: str | None) -> str:
    """How a configure value uses a package: no, internal, external or default (not given)."""
    if value is None:
        return "default"
    if value in ("no", "internal", "external"):
        return value
    return "external" if value.startswith("/") or value == "yes" else value


def facts(components: list[SourceComponent]) -> dict[str, str]:
    """What the preflight rules look at: each component's version, and for each component how its
    configure line takes its packages (`ompi.prrte: no`, `ompi.pmix: external`, …)."""
    out: dict[str, str] = {}
    for c in components:
        out[c.name] = c.version
        options = configure_options(c.configure)
        for package in ("pmix", "prrte", "hwloc", "libevent"):
            if package != c.name:
                out[f"{c.name}.{package}"] = _kind(options.get(package))
    return out


def tag_suffix(components: list[SourceComponent]) -> str:
    """`pmix5.0.5-prrte3.0.8`: the component releases, for the image tag."""
    return "-".join(f"{c.name}{c.version}" for c in components)
