# recapp — the two commands a fresh machine needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
RECAPP := $(VENV)/bin/recapp
PYTEST := $(VENV)/bin/python -m pytest -p no:cacheprovider
SUITE ?= trixie

.PHONY: test-local kube-setup kube-build kube-up kube-down kube-load test-kube reliability setup host-packages venv fresh-check demo test quick lint images images-all images-source images-mpich conformance clean-test help matrix bench test-source

help:
	@echo "make demo   - the main job on the local backend: build, 2-node cluster, MPI jobs, report, teardown"
	@echo "make test   - lint + the whole test suite, e2e and live Kubernetes included (what CI runs)"
	@echo "make test-local - the same without the live Kubernetes tests"
	@echo "make quick  - lint + tests that need no containers (for iterating, not for calling work done)"
	@echo "make images - build the default REC/APP images (cached)"
	@echo "make fresh-check HOST=bookworm|trixie - make setup, recapp doctor, make demo on a clean Debian rootfs"
	@echo "make images-source - build the source-flavor REC/APP (PMIx, PRRTE, Open MPI compiled; long)"
	@echo "make images-mpich - build the MPICH APP (app-mpich:trixie; MPICH compiled from Debian's source package)"
	@echo "make kube-up - a local one-node Kubernetes built from Go modules (k8s/localkube); last line KUBECONFIG=..."
	@echo "make kube-down - stop it, leaving nothing on the host; make test-kube - up, pytest -m k8s, down"
	@echo "make bench  - workloads nested vs native vs traditional, launch and cluster benchmarks → bench-results/DATE/report.html"

# Idempotent: installs only what is missing (the list per Debian release is in scripts/setup.sh);
# the venv is rebuilt when pyproject.toml changes. One line per step; details in .setup.log.
# With Kubernetes' host packages and a check for Go (CI runs `make test-kube` too): a missing
# prerequisite is named in one line and fails here.
setup:
	@scripts/setup.sh all $(APT_PACKAGES) $(KUBE_APT_PACKAGES)

# APT_PACKAGES: more packages on top of the release's list (kube-setup adds Kubernetes' own).
APT_PACKAGES ?=
host-packages:
	@scripts/setup.sh packages $(APT_PACKAGES)

venv:
	@scripts/setup.sh venv

# mypy does not see recapp's run-time search path (builder/ is recapp.builder in a checkout), so it reads
# a tree of symlinks laid out as installed, made from pyproject's wheel sources (.typecheck/, not committed).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@rm -rf .typecheck && $(VENV)/bin/python -c 'import tomllib, pathlib; \
	  root = pathlib.Path.cwd(); out = root / ".typecheck/recapp"; out.mkdir(parents=True); \
	  [(out / f.name).symlink_to(f) for f in (root / "recapp").iterdir() if f.name != "__pycache__"]; \
	  rooms = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]["sources"]; \
	  [(root / ".typecheck" / target).symlink_to(root / room) for room, target in rooms.items()]'
	MYPYPATH=.typecheck $(VENV)/bin/mypy -p recapp

images: setup
	$(RECAPP) build rec --suite $(SUITE)
	$(RECAPP) build app --suite $(SUITE)

images-all: setup
	for s in trixie sid; do $(RECAPP) build rec --suite $$s || exit $$?; done
	for s in bookworm trixie sid; do $(RECAPP) build app --suite $$s || exit $$?; done

# Source flavor (recipes/source/components.yaml): a bookworm REC with PRRTE 3.0.8 on PMIx 5.0.5 and a
# trixie APP with Open MPI 5.0.7 --without-prrte on PMIx 5.0.5, from Debian source packages. Compiles
# for about an hour on 2 busy cores; `nice` keeps the machine usable. Rebuilds are cached.
SOURCE_REC := localhost/recapp/rec-source:bookworm-pmix5.0.5-prrte3.0.8
SOURCE_APP := localhost/recapp/app-mpi-source:trixie-pmix5.0.5-ompi5.0.7

images-source: setup
	nice -n 10 $(RECAPP) build rec --flavor source --suite bookworm
	nice -n 10 $(RECAPP) build app --flavor source --suite trixie

# The slow source-built images' tests (the source flavor, MPICH from Debian's source); not part of `make test`.
test-source: images-source images-mpich
	$(PYTEST) -m slow tests/e2e/test_source_images.py tests/e2e/test_mpich.py

# The talk's demo: MPI examples, NAS EP class S, ping-pong and the CI-size GROMACS run across a
# 2-node local cluster, nested; ends with the HTML report's path.
demo: setup
	$(RECAPP) doctor
	$(RECAPP) build rec --suite $(SUITE)
	$(RECAPP) build app --suite $(SUITE)
	$(RECAPP) conformance images --rec-image localhost/recapp/rec:$(SUITE) --app-image localhost/recapp/app-mpi:$(SUITE)
	$(RECAPP) images
	$(RECAPP) demo --suite $(SUITE)

# A brand-new Debian machine (mmdebstrap rootfs of HOST, HEAD copied in): make setup, recapp doctor,
# make demo inside a privileged podman container; a PASS/FAIL summary line; leaves nothing behind.
HOST ?= bookworm
fresh-check:
	nice -n 10 tests/fresh/fresh-check.sh $(HOST)

# What CI runs: lint, the suite (local backend, real containers), then the live Kubernetes tests
# (`make test-kube`), with the local cluster's build overlapped with the suite (scripts/test-all.sh).
test: setup lint kube-setup
	@PYTEST="$(PYTEST)" scripts/test-all.sh

# The suite alone, without the live Kubernetes tests (marker k8s: deselected here, not skipped).
test-local: setup lint
	$(PYTEST) -m "not slow and not k8s" tests

quick: venv lint
	$(PYTEST) -m "not slow and not e2e and not k8s" tests

# Removes what an interrupted test run may have left (never recapp's cached images).
clean-test:
	-podman ps -aq --filter label=io.recapp.owner | xargs -r podman rm -f -t 0
	-podman volume ls -q --filter label=io.recapp.owner | xargs -r podman volume rm -f
	-podman network ls -q --filter label=io.recapp.owner | xargs -r podman network rm -f

# The APP of another MPI (issue 19): MPICH compiled from Debian's source package against the APP's
# PMIx, trixie only (workloads/mpich/app-mpich.yaml says why). Compiles MPICH: long on 2 cores.
images-mpich: setup
	nice -n 10 $(RECAPP) build app --workload mpich --suite trixie

# The full matrix: 3 RECs (trixie, sid, the source REC) × 5 APPs (Open MPI on bookworm, trixie, sid,
# the source-built Open MPI APP, MPICH on trixie), at every level (L1-L4, then the deeper ones of
# issue 19); JSON + Markdown + HTML + JUnit, and its wall time on the last line. `--source` adds the
# source-flavor images `make images-source` builds (about an hour of compiling here).
# MATRIX_LEVELS=L1,L2,L3,L4 for the quick, PMIx-only part.
MATRIX_LEVELS ?= all
matrix: images-all images-mpich images-source
	@start=$$(date +%s); \
	$(RECAPP) matrix --rec localhost/recapp/rec:trixie --rec localhost/recapp/rec:sid \
	  --app localhost/recapp/app-mpi:bookworm --app localhost/recapp/app-mpi:trixie --app localhost/recapp/app-mpi:sid \
	  --app localhost/recapp/app-mpich:trixie \
	  --source --levels $(MATRIX_LEVELS) --out matrix-out || exit $$?; \
	$(RECAPP) report matrix-out --out matrix-report || exit $$?; \
	echo "make matrix: levels $(MATRIX_LEVELS), wall time $$(( $$(date +%s) - start )) s (load $$(cut -d' ' -f1-3 /proc/loadavg))"

# Benchmarks on the default images, in a dated folder under bench-results/: workloads nested vs
# native vs traditional (alternating, 3 repeats), the launch variants and cluster up; records,
# report.md, report.html (plots), junit.xml. About 20 min on 2 cores; `make bench BENCH_ARGS=--quick`
# for a first look, BENCH_ARGS="--repeats 5" for tighter medians.
BENCH_ARGS ?=
bench: setup
	$(RECAPP) bench --suite $(SUITE) $(BENCH_ARGS)

# Issues 8 and 16: faults, soaks (20 jobs with and without the DVM; RELIABILITY_SOAK_JOBS short jobs
# that exit at once or fail, on 4 nodes, by hand and by `recapp run`, with and without the DVM), 40
# quick jobs on 4 nodes that must never hang, 4 clusters busy for RELIABILITY_CONCURRENCY_S, bad input,
# the security report. CI (`make test`) runs the fast part of the same tests; this adds the slow ones.
# The two long runs go first, so their figures exist whatever fails after them.
RELIABILITY_OUT ?= reliability-out
RELIABILITY_SOAK_JOBS ?= 200
RELIABILITY_CONCURRENCY_S ?= 600
LONG_RUNS := tests/e2e/test_soak.py tests/e2e/test_concurrency.py
reliability: setup images
	mkdir -p $(RELIABILITY_OUT)
	@rc=0; RECAPP_SOAK_JOBS=$(RELIABILITY_SOAK_JOBS) RECAPP_CONCURRENCY_S=$(RELIABILITY_CONCURRENCY_S) \
	  $(PYTEST) -m reliability $(LONG_RUNS) --junitxml=$(RELIABILITY_OUT)/junit-long-runs.xml || rc=$$?; \
	  $(PYTEST) -m reliability tests $(LONG_RUNS:%=--ignore=%) \
	    --junitxml=$(RELIABILITY_OUT)/junit-reliability.xml || rc=$$?; \
	  $(VENV)/bin/python scripts/reliability-summary.py; exit $$rc
	$(PYTEST) tests/agent tests/kube/test_kubeconfig.py tests/kube/test_kube_errors.py \
	  "tests/e2e/test_cluster.py::test_node_killed_mid_job_ends_the_job_naming_it" \
	  "tests/e2e/test_cluster.py::test_node_that_never_becomes_ready_times_out_naming_it" \
	  "tests/e2e/test_cluster.py::test_not_a_rec_is_refused_before_anything_is_created" \
	  "tests/e2e/test_matrix.py::test_hung_probe_is_hang_within_the_timeout_and_leaves_nothing" \
	  --junitxml=$(RELIABILITY_OUT)/junit-earlier-faults.xml
	@echo "security report (exit 1 while the images carry setuid files outside the allow-list):"
	-$(RECAPP) conformance security --rec localhost/recapp/rec:$(SUITE) --app localhost/recapp/app-mpi:$(SUITE) \
	  --out $(RELIABILITY_OUT)/security.json

# --- A local Kubernetes on this machine (k8s/localkube, docs/kubernetes.md) ---
# Host packages the node needs beyond podman's: conntrack (kube-proxy clears
# stale UDP flows), ipset (kube-router's NetworkPolicy sets), ebtables + ethtool
# + socat (kubelet's port-forward and its checks), the CNI plugins (bridge,
# host-local, loopback, portmap), libseccomp-dev (runc is built with seccomp),
# gettext-base (envsubst renders the config templates), gcc (the pause image), busybox-static (the toolbox image), golang from /usr/local/go.
KUBE_APT_PACKAGES := conntrack ipset ebtables ethtool socat containernetworking-plugins libseccomp-dev gettext-base gcc libc6-dev busybox-static iptables nftables iproute2 openssl
LOCALKUBE := k8s/localkube

kube-setup:
	@scripts/setup.sh go
	@$(MAKE) --no-print-directory host-packages APT_PACKAGES="$(APT_PACKAGES) $(KUBE_APT_PACKAGES)"

kube-build: kube-setup
	$(LOCALKUBE)/build-kube
	$(LOCALKUBE)/build-deps
	$(LOCALKUBE)/build-images

kube-up: kube-setup
	@$(LOCALKUBE)/up

kube-down:
	@$(LOCALKUBE)/down

# make kube-load IMAGES="localhost/recapp/rec:trixie localhost/recapp/app-mpi:trixie"
kube-load:
	@$(LOCALKUBE)/load-image $(IMAGES)

# Up, the live-cluster tests, down (its own test checks the host is left as found);
# the exit status is the tests'.
# The images the live tests run, built (cached) and imported into the node's containerd.
KUBE_TEST_IMAGES = localhost/recapp/rec:$(SUITE) localhost/recapp/app-mpi:$(SUITE) localhost/recapp/app-nas:$(SUITE)
# The kubexec launcher's live test needs a REC with kubectl: the REC plus this cluster's kubectl.
KUBE_KUBEXEC_REC = localhost/recapp/rec-kubexec:$(SUITE)

test-kube: venv kube-setup
	@set -o pipefail; kc=$$($(LOCALKUBE)/up | tail -n 1) || exit $$?; export "$$kc"; \
	  export PATH="$$(source $(LOCALKUBE)/env.sh && echo "$$KUBE_BIN"):$$PATH"; \
	  for kind in "rec" "app" "app --workload nas"; do $(RECAPP) build $$kind --suite $(SUITE) >/dev/null || exit $$?; done; \
	  $(LOCALKUBE)/build-kubexec-rec localhost/recapp/rec:$(SUITE) $(KUBE_KUBEXEC_REC) || exit $$?; \
	  $(LOCALKUBE)/load-image $(KUBE_TEST_IMAGES) $(KUBE_KUBEXEC_REC) || exit $$?; \
	  export RECAPP_K8S_REC_IMAGE=localhost/recapp/rec:$(SUITE) RECAPP_K8S_PULL_POLICY=Never \
	    RECAPP_K8S_KUBEXEC_REC_IMAGE=$(KUBE_KUBEXEC_REC) \
	    RECAPP_K8S_SECCOMP_PROFILE=recapp-nested-podman.json RECAPP_K8S_RESTART=1; \
	  rc=0; $(PYTEST) -m k8s tests/localkube tests/kube --ignore=tests/localkube/test_zz_down.py || rc=$$?; \
	  $(PYTEST) -m k8s tests/localkube/test_zz_down.py || { r=$$?; [ $$rc -ne 0 ] || rc=$$r; }; \
	  $(LOCALKUBE)/down; exit $$rc
