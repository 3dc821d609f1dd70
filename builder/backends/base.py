"""The one small interface every build backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recapp.host.progress import Step


@dataclass(frozen=True)
class ImageInfo:
    id: str
    tags: list[str]
    size: int
    labels: dict[str, str] = field(default_factory=dict)
    created: str = ""


class BuildBackend(ABC):
    name: str

    @abstractmethod
    def build(
        self,
        context_dir: Path,
        *,
        tag: str | None,
        labels: Mapping[str, str],
        log_path: Path,
        on_line: Step | None = None,
    ) -> str:
        """Build context_dir/Containerfile; return the image id. Nothing is tagged on failure,
        and no build container is left behind."""

    @abstractmethod
    def inspect(self, ref: str) -> ImageInfo | None:
        """The image's id, tags, size and labels, or None when it does not exist."""

    def exists(self, ref: str) -> bool:
        return self.inspect(ref) is not None

    @abstractmethod
    def run(self, ref: str, argv: Sequence[str], *, timeout: float = 120) -> tuple[int, str]:
        """Run argv in a throwaway container of ref; return (exit status, stdout+stderr)."""

    @abstractmethod
    def remove(self, ref: str) -> None:
        """Remove an image if it exists and nothing uses it; never fails the caller."""

    @abstractmethod
    def push(self, ref: str, destination: str) -> None:
        """Push ref to a registry reference (for clusters that pull from one)."""
