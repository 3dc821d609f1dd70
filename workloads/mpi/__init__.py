"""The mpi workload (workload.yaml says what it holds)."""
