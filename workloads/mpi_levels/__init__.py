"""The matrix's MPI level probes (workload.yaml says what it holds)."""
