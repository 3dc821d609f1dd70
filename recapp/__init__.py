"""recapp — build and certify REC/APP containers for PMIx-enabled MPI applications."""

from pathlib import Path as _Path

__version__ = "0.1.0"

# Every OCI label recapp writes lives under this prefix, so `recapp images` and cleanup can
# find recapp's images and nothing else.
LABEL_PREFIX = "io.recapp"

# The rooms (builder/, k8s/, node/, …) are subpackages recapp.builder, recapp.k8s, … A wheel puts them
# inside recapp/; a checkout (`pip install -e .`, or the tests run from the tree) keeps them beside it at
# the top of the tree. There, the checkout's root joins this package's search path so the same names
# resolve to the live sources, with no import hook and nothing generated.
_CHECKOUT = _Path(__file__).resolve().parent.parent
if not (_Path(__file__).resolve().parent / "builder").is_dir() and (_CHECKOUT / "pyproject.toml").is_file():
    __path__.append(str(_CHECKOUT))
