"""The mpich workload: an APP of another MPI (workload.yaml says what it holds)."""
