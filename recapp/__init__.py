"""recapp — build and certify REC/APP containers for PMIx-enabled MPI applications."""

__version__ = "0.1.0"

# Every OCI label recapp writes lives under this prefix, so `recapp images` and cleanup can
# find recapp's images and nothing else.
LABEL_PREFIX = "io.recapp"
