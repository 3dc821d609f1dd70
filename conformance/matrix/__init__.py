"""The PMIx cross-version matrix across the REC/APP boundary: levels, classification, expectations, runner."""
