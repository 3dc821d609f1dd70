"""The hpcc workload (workload.yaml says what it holds)."""
