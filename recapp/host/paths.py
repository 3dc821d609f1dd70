"""Where recapp keeps its state: build records, logs, caches, cluster sessions.

`RECAPP_HOME` overrides the default (`$XDG_STATE_HOME/recapp`, else `~/.local/state/recapp`).
"""

from __future__ import annotations

import os
from pathlib import Path


def state_dir() -> Path:
    env = os.environ.get("RECAPP_HOME")
    if env:
        base = Path(env)
    else:
        xdg = os.environ.get("XDG_STATE_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".local" / "state") / "recapp"
    base.mkdir(parents=True, exist_ok=True)
    return base


def sub(*parts: str) -> Path:
    path = state_dir().joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
