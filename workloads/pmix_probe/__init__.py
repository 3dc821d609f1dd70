"""The pmix_probe workload (workload.yaml says what it holds)."""
