"""Recipes: YAML data validated on load. Unknown keys fail loudly, naming the field."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from recapp import workloads
from recapp.builder.suites import SUITES
from recapp.errors import RecipeError, WorkloadError
from recapp.node import install as node_install
from recapp.recipes import RECIPES_DIR

M = TypeVar("M", bound=BaseModel)

# A Debian package name, optionally pinned: `name` or `name=version`.
RECIPE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")
PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$")
# Rendered into `ENV PRTE_MCA_<name>=<value>`: nothing a Containerfile line could misread.
MCA_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,80}$")
MCA_VALUE_RE = re.compile(r"^[A-Za-z0-9_.,:/-]{1,200}$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class User(Strict):
    name: str = Field(pattern=r"^[a-z_][a-z0-9_-]{0,31}$")
    uid: int = Field(ge=1, le=2**31 - 1)
    gid: int = Field(ge=1, le=2**31 - 1)


class SubIds(Strict):
    start: int = Field(ge=1)
    count: int = Field(ge=65536)


def _package_names(value: list[str]) -> list[str]:
    for pkg in value:
        if not PACKAGE_RE.match(pkg):
            raise ValueError(f"bad package name {pkg!r}")
    return value


class SuiteEntry(Strict):
    packages: list[str] = []
    build_packages: list[str] = []
    # REC only: how wrap-container starts ranks by default. `sandbox` (one long-lived APP container
    # per node, ranks enter it) unless the stack cannot take it; then `fresh` (a podman run per rank)
    # with `rank_containers_why` saying what was measured.
    rank_containers: Literal["sandbox", "fresh"] = "sandbox"
    rank_containers_why: str | None = None
    # REC only: PRRTE MCA settings the image sets for every PRRTE tool it runs (prterun, prte,
    # prted), as PRTE_MCA_<name> in the image's environment, with `prrte_mca_why` naming the defect
    # of this suite's PRRTE that each one works around (the matrix's data records it per version).
    prrte_mca: dict[str, str] = {}
    prrte_mca_why: str | None = None

    _packages = field_validator("packages", "build_packages")(_package_names)

    @field_validator("prrte_mca")
    @classmethod
    def _mca_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, setting in value.items():
            if not MCA_NAME_RE.match(name):
                raise ValueError(f"bad PRRTE MCA parameter name {name!r}")
            if not MCA_VALUE_RE.match(setting):
                raise ValueError(f"bad value {setting!r} for PRRTE MCA parameter {name}")
        return value

    @model_validator(mode="after")
    def _fresh_says_why(self) -> SuiteEntry:
        if self.rank_containers == "fresh" and not (self.rank_containers_why or "").strip():
            raise ValueError("rank_containers: fresh needs rank_containers_why (what the sandbox hit)")
        if self.prrte_mca and not (self.prrte_mca_why or "").strip():
            raise ValueError("prrte_mca needs prrte_mca_why (the PRRTE defect each setting works around)")
        return self


class VersionProbe(Strict):
    """How to read one component's version from a built image.

    `packages`: the upstream version of the first of these packages that is installed.
    `command` + `pattern`: run the command in the image, take the pattern's first group.
    """

    packages: list[str] = []
    command: list[str] = []
    pattern: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> VersionProbe:
        if bool(self.packages) == bool(self.command):
            raise ValueError("give either 'packages' or 'command' (with 'pattern')")
        if self.command and not self.pattern:
            raise ValueError("'command' needs a 'pattern' with one group")
        return self


class Expectations(Strict):
    executables: list[str] = []
    absent: list[str] = []


# What a configure line may hold here: plain options, rendered into a RUN line unquoted.
CONFIGURE_ARG_RE = re.compile(r"^--[a-z0-9][a-z0-9-]*(=[A-Za-z0-9_./,:+-]*)?$")


class SourcePackage(Strict):
    """An MPI library a distro-flavor APP compiles in a build stage of its own from a Debian source
    package: `apt-get source --download-only PACKAGE=VERSION` from the `suite`'s deb-src (apt checks
    it against the signed Sources index), the upstream tarball `file` checked against `sha256`, then
    configured with `configure` into `prefix`. The final stage copies only `prefix`/lib."""

    package: str = Field(pattern=r"^[a-z0-9][a-z0-9+.-]+$")
    version: str = Field(pattern=r"^[A-Za-z0-9.+~:-]+$")
    suite: str
    file: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+~-]*$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    srcdir: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.+~-]*$")
    prefix: str = Field(pattern=r"^/opt/[a-z0-9-]+$")
    build_packages: list[str]
    configure: list[str]
    # Why the source package comes from another suite than the image's, when it does.
    suite_why: str | None = None

    _packages = field_validator("build_packages")(_package_names)

    @field_validator("suite")
    @classmethod
    def _known_suite(cls, value: str) -> str:
        if value not in SUITES:
            raise ValueError(f"unknown suite {value!r} (known: {', '.join(SUITES)})")
        return value

    @field_validator("configure")
    @classmethod
    def _plain_options(cls, value: list[str]) -> list[str]:
        for arg in value:
            if not CONFIGURE_ARG_RE.match(arg):
                raise ValueError(f"{arg!r}: not a plain configure option")
        return value


class Recipe(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,40}$")
    kind: Literal["rec", "app"]
    workload: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{0,30}$")
    # distro: components from the suite's packages; source: built from pinned release tarballs.
    flavor: Literal["distro", "source"] = "distro"
    summary: str
    template: str
    user: User
    subids: SubIds | None = None
    files: list[str] = []
    # recapp.node's programs the builder installs (recapp.node.install: package copy + entry points).
    node_programs: list[str] = []
    sources: list[str] = []
    packages: list[str] = []
    build_packages: list[str] = []
    suites: dict[str, SuiteEntry]
    unsupported: dict[str, str] = {}
    versions: dict[str, VersionProbe] = {}
    expect: Expectations = Expectations()
    # Source flavor: component → default release, in build order (recipes/source/components.yaml).
    components: dict[str, str] = {}
    # A distro-flavor APP whose MPI the distribution ships no usable build of (app-mpich).
    mpi_source: SourcePackage | None = None

    _packages = field_validator("packages", "build_packages")(_package_names)

    @field_validator("files")
    @classmethod
    def _files(cls, value: list[str]) -> list[str]:
        for rel in value:
            _inside(RECIPES_DIR / "files", rel)
        return value

    @field_validator("node_programs")
    @classmethod
    def _node_programs(cls, value: list[str]) -> list[str]:
        unknown = [program for program in value if program not in node_install.PROGRAMS]
        if unknown:
            known = ", ".join(sorted(node_install.PROGRAMS))
            raise ValueError(f"unknown node program(s) {unknown} (known: {known})")
        return value

    @field_validator("sources")
    @classmethod
    def _sources(cls, value: list[str]) -> list[str]:
        """Workload names whose src/ the image builds; `*` = every other workload with sources, by name
        (the all-in-one image carries every workload's programs)."""
        named = [name for name in value if name != ALL_SOURCES]
        for name in named:
            try:
                workloads.source_dir(name)
            except WorkloadError as exc:
                raise ValueError(str(exc)) from exc
        if ALL_SOURCES not in value:
            return value
        if value.count(ALL_SOURCES) > 1 or value[-1] != ALL_SOURCES:
            raise ValueError(f"{ALL_SOURCES!r} comes once, last (after the workloads built first)")
        return [*named, *(name for name in workloads.with_sources() if name not in named)]

    @field_validator("template")
    @classmethod
    def _template(cls, value: str) -> str:
        _inside(RECIPES_DIR / "templates", value, file=True)
        return value

    @field_validator("suites", "unsupported")
    @classmethod
    def _known_suites(cls, value: dict[str, object]) -> dict[str, object]:
        for suite in value:
            if suite not in SUITES:
                raise ValueError(f"unknown suite {suite!r} (known: {', '.join(SUITES)})")
        return value

    @model_validator(mode="after")
    def _check(self) -> Recipe:
        if self.kind == "rec" and self.subids is None:
            raise ValueError("a REC recipe needs 'subids' for the nested rootless podman")
        if self.kind == "app" and not self.workload:
            raise ValueError("an APP recipe needs a 'workload'")
        if (self.flavor == "source") != bool(self.components):
            raise ValueError("'components' is given exactly when the flavor is 'source'")
        if self.mpi_source is not None and (self.kind != "app" or self.flavor != "distro"):
            raise ValueError("'mpi_source' is for distro-flavor APP recipes")
        if self.kind == "app" and any(e.rank_containers != "sandbox" for e in self.suites.values()):
            raise ValueError("'rank_containers' is a REC setting (how its wrap-container starts ranks)")
        return self

    def packages_for(self, suite: str) -> list[str]:
        return [*self.packages, *self.suite_entry(suite).packages]

    def build_packages_for(self, suite: str) -> list[str]:
        return [*self.build_packages, *self.suite_entry(suite).build_packages]

    def suite_entry(self, suite: str) -> SuiteEntry:
        if suite in self.unsupported:
            raise RecipeError(
                f"recipe {self.name}: suite {suite} is not supported: {self.unsupported[suite]}"
            )
        if suite not in self.suites:
            raise RecipeError(
                f"recipe {self.name}: suite {suite!r} is not one of its suites ({', '.join(self.suites)})"
            )
        return self.suites[suite]


def _inside(root: Path, rel: str, *, file: bool = False) -> None:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"{rel!r} points outside recipes/{root.name}")
    if not (path.is_file() if file else path.exists()):
        raise ValueError(f"{rel!r} not found in recipes/{root.name}")


ALL_SOURCES = "*"
FLAVORS: tuple[str, ...] = ("distro", "source")
# What `recapp build KIND` builds: a REC, an APP (one per workload), or the traditional all-in-one
# image (a REC-kind recipe with the applications built in, for comparison with the separated model).
IMAGE_KINDS = ("rec", "app", "aio")


def recipe_name(kind: str, workload: str | None, flavor: str = "distro") -> str:
    if flavor not in FLAVORS:
        raise RecipeError(f"unknown flavor {flavor!r}: choose {' or '.join(FLAVORS)}")
    suffix = "" if flavor == "distro" else f"-{flavor}"
    if kind == "aio":
        if flavor != "distro":
            raise RecipeError(
                "the all-in-one image (aio) is built from Debian's packages only: no --flavor source"
            )
        return "aio"
    if kind == "rec":
        return f"rec{suffix}"
    if kind == "app":
        if workload is not None and not workload.strip():
            # An empty --workload is a mistake (an unset shell variable), not a request for the default.
            raise RecipeError("recipe: --workload is empty; name one, e.g. --workload mpi (recipe app-mpi)")
        return f"app-{workload or 'mpi'}{suffix}"
    raise RecipeError(f"unknown image kind {kind!r}: choose rec, app or aio")


def _files() -> dict[str, Path]:
    """Recipe name → file: the REC and aio recipes in recipes/, each APP recipe in its workload's folder."""
    return {**{p.stem: p for p in RECIPES_DIR.glob("*.yaml")}, **workloads.recipe_files()}


def available() -> list[str]:
    return sorted(_files())


def parse(data: object, source: str) -> Recipe:
    """Validate recipe data; one line naming the field on error."""
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        raise RecipeError(f"recipe {source}: field '{where}': {msg}") from exc


@cache
def load(name: str) -> Recipe:
    # The name (from --workload) becomes a file name: only a plain recipe name, never a path.
    if not RECIPE_NAME.fullmatch(name):
        raise RecipeError(
            f"recipe name {name[:40]!r}: lowercase letters, digits and '-' only, e.g. rec or app-mpi"
        )
    path = _files().get(name)
    if path is None:
        raise RecipeError(f"unknown recipe {name!r}: available recipes are {', '.join(available())}")
    recipe = load_file(path)
    if path.parent != RECIPES_DIR and recipe.workload != path.parent.name:
        raise RecipeError(
            f"recipe {name}: in workload folder {path.parent.name}, names workload {recipe.workload}"
        )
    return recipe


def read_model(path: Path, model: type[M]) -> M:
    """A recipe data file (YAML) as `model`; a fault is one line naming the file and the field."""
    try:
        return model.model_validate(yaml.safe_load(path.read_text()))
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path.name}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise RecipeError(f"{path.name}: field '{where}': {err['msg']}") from exc


def load_file(path: Path) -> Recipe:
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise RecipeError(f"recipe {path.name}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    return parse(data, path.name)
