"""The one callback type for lines shown to the user while work runs (progress steps, command output).

Every room takes it as an optional argument instead of printing: only the CLI decides how a line is shown.
"""

from __future__ import annotations

from collections.abc import Callable

Step = Callable[[str], None]
