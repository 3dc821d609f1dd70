"""The conformance suite users run against their images and clusters (pytest + testinfra)."""
