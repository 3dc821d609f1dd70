"""Recipe → build context. Pure: the same recipe, suite and base give byte-identical output.

A context is a mapping of relative paths to (content, mode); its content hash identifies it and
travels as an image label, so an unchanged recipe + base is never rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2

from recapp.builder.npb import NpbBuild
from recapp.builder.recipe import Recipe
from recapp.builder.source import SourceComponent, catalog
from recapp.errors import RecipeError
from recapp.node import install as node_install
from recapp.node import protocol as agent_protocol
from recapp.recipes import RECIPES_DIR
from recapp.workloads import source_dir

CONTAINERFILE = "Containerfile"
NODE_DIR = "node"  # the node package's install tree (recapp.node.install) in the context


@dataclass(frozen=True)
class BuildContext:
    recipe: Recipe
    suite: str
    base_ref: str
    files: dict[str, tuple[bytes, int]]

    @property
    def digest(self) -> str:
        """sha256 over every path, mode and content, in sorted order."""
        h = hashlib.sha256()
        for rel in sorted(self.files):
            content, mode = self.files[rel]
            h.update(f"{rel}\0{mode:o}\0{len(content)}\0".encode())
            h.update(content)
        return h.hexdigest()

    @property
    def containerfile(self) -> str:
        return self.files[CONTAINERFILE][0].decode()

    def write(self, root: Path) -> Path:
        """Write the context below root/<recipe>-<suite>-<digest12> (replacing a stale copy)."""
        out = root / f"{self.recipe.name}-{self.suite}-{self.digest[:12]}"
        if out.exists():
            shutil.rmtree(out)
        for rel, (content, mode) in sorted(self.files.items()):
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            os.chmod(path, mode)
        return out


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(RECIPES_DIR / "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Containerfiles, not HTML
    )


def _tree(root: Path, rel: str, prefix: str) -> dict[str, tuple[bytes, int]]:
    """Files below root/rel as context entries under prefix/rel (build outputs excluded)."""
    base = root / rel
    paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
    out: dict[str, tuple[bytes, int]] = {}
    for path in paths:
        if path.suffix in {".o", ".pyc", ".x"} or "__pycache__" in path.parts:  # build outputs
            continue
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        out[f"{prefix}/{path.relative_to(root).as_posix()}"] = (path.read_bytes(), mode)
    return out


def _sources(name: str) -> dict[str, tuple[bytes, int]]:
    """A workload's src/ as `src/<name>/…`, the path the templates COPY from (as when it was recipes/src)."""
    return _tree(source_dir(name), ".", f"src/{name}")


def render(
    recipe: Recipe,
    suite: str,
    base_ref: str,
    base_id: str,
    components: list[SourceComponent] | None = None,
    archives: dict[str, bytes] | None = None,
    npb: NpbBuild | None = None,
) -> BuildContext:
    """Render recipe for suite on top of base_ref (whose image id base_id pins the context).

    Source recipes also take their resolved components and the verified archives (file name →
    bytes), which become `sources/<file>` in the context and so part of its digest. The nas APP with
    the official NPB takes its verified tarball and config files (`npb/` in the context)."""
    recipe.suite_entry(suite)  # unsupported/unknown suite: one clear error before anything else
    components = components or []
    archives = archives or {}
    if recipe.flavor == "source" and not components:
        raise RecipeError(f"recipe {recipe.name}: a source recipe renders with its resolved components")
    missing = sorted({c.archive for c in components} - set(archives))
    if missing:
        raise RecipeError(f"recipe {recipe.name}: source archive(s) not supplied: {', '.join(missing)}")
    template_vars = {
        "recipe": recipe,
        "suite": suite,
        "base": base_ref,
        "home": f"/home/{recipe.user.name}",
        "suite_entry": recipe.suite_entry(suite),
        "packages": recipe.packages_for(suite),
        "build_packages": recipe.build_packages_for(suite),
        "components": components,
        "npb": npb,
        "source_build_packages": catalog().build_packages if components else [],
        # The node programs' install layout and the agent's port and secret path, as recapp.node has them.
        "node": {
            "dir": NODE_DIR,
            "prefix": node_install.PREFIX,
            "lib_dir": node_install.LIB_DIR,
            "bin_dir": node_install.BIN_DIR,
            "programs": recipe.node_programs,
        },
        "agent": {
            "port": agent_protocol.AGENT_PORT,
            "secret_file": agent_protocol.SECRET_FILE,
            "secret_dir": agent_protocol.SECRET_DIR,
        },
    }
    try:
        text = _environment().get_template(recipe.template).render(**template_vars)
    except jinja2.TemplateError as exc:
        raise RecipeError(f"recipe {recipe.name}: template {recipe.template}: {exc}") from exc
    files: dict[str, tuple[bytes, int]] = {CONTAINERFILE: (text.encode(), 0o644)}
    for rel in recipe.files:
        files.update(_tree(RECIPES_DIR / "files", rel, "files"))
    if recipe.node_programs:
        for rel, entry in node_install.tree(recipe.node_programs).items():
            files[f"{NODE_DIR}/{rel}"] = entry
    for name in recipe.sources:
        files.update(_sources(name))
    for c in components:
        files[f"sources/{c.archive}"] = (archives[c.archive], 0o644)
    if npb is not None:
        files.update(npb.context_files())
    # The base image id is part of the identity: a refreshed base (new archive snapshot) rebuilds.
    meta = {"recipe": recipe.name, "suite": suite, "base_ref": base_ref, "base_id": base_id}
    files[".recapp-context.json"] = (json.dumps(meta, sort_keys=True).encode(), 0o644)
    return BuildContext(recipe=recipe, suite=suite, base_ref=base_ref, files=files)
