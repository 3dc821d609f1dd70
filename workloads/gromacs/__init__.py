"""The gromacs workload (workload.yaml says what it holds)."""
