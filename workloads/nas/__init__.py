"""The nas workload (workload.yaml says what it holds)."""
