#!/usr/bin/env bash
# `make test`: the suite on the local backend, then the live Kubernetes tests (`make test-kube`).
# The local cluster's binaries are built in the background while the suite runs: cold, that build is
# about 30 minutes of Go compiles on 2 cores (cached per release in ~/.cache/recapp/kube, a no-op
# once cached), and the suite spends much of its time waiting on containers, so the two overlap
# instead of adding up. The exit status is the suite's, else the live tests'.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTEST=${PYTEST:-.venv/bin/python -m pytest -p no:cacheprovider}
log=.kube-build.log
# In a session of its own, so that an interrupted `make test` can stop the whole build (its group).
setsid bash -c 'nice -n 10 k8s/localkube/build-kube && nice -n 10 k8s/localkube/build-deps \
  && k8s/localkube/build-images' >"$log" 2>&1 &
build=$!
trap 'kill -- -"$build" 2>/dev/null; exit 130' INT TERM
echo "test: building the local Kubernetes in the background while the suite runs (log: $log)"
$PYTEST -m "not slow and not k8s" tests
suite=$?
if ! wait "$build"; then
  echo "test: the local Kubernetes build failed (last lines of $log):" >&2
  tail -n 30 "$log" >&2
  exit 1
fi
echo "test: local Kubernetes binaries ready ($(grep -c '^built ' "$log") built now, the rest cached)"
make --no-print-directory test-kube
kube=$?
[[ $suite -ne 0 ]] && exit "$suite"
exit "$kube"
