# recapp — the two commands a fresh machine needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
RECAPP := $(VENV)/bin/recapp
PYTEST := $(VENV)/bin/python -m pytest -p no:cacheprovider
SUITE ?= trixie

.PHONY: kube-setup kube-build kube-up kube-down kube-load test-kube reliability setup host-packages venv fresh-check demo test quick lint images images-all images-source conformance clean-test help matrix bench test-source

help:
	@echo "make demo   - the main job on the local backend: build, 2-node cluster, MPI jobs, report, teardown"
	@echo "make test   - lint + the whole test suite, e2e included (what CI runs)"
	@echo "make quick  - lint + tests that need no containers (for iterating, not for calling work done)"
	@echo "make images - build the default REC/APP images (cached)"
	@echo "make fresh-check HOST=bookworm|trixie - make setup, recapp doctor, make demo on a clean Debian rootfs"
	@echo "make images-source - build the source-flavor REC/APP (PMIx, PRRTE, Open MPI compiled; long)"
	@echo "make kube-up - a local one-node Kubernetes built from Go modules (k8s/localkube); last line KUBECONFIG=..."
	@echo "make kube-down - stop it, leaving nothing on the host; make test-kube - up, pytest -m k8s, down"
	@echo "make bench  - workloads nested vs native vs traditional, launch and cluster benchmarks → bench-results/DATE/report.html"

# Idempotent: installs only what is missing (the list per Debian release is in scripts/setup.sh);
# the venv is rebuilt when pyproject.toml changes. One line per step; details in .setup.log.
setup:
	@scripts/setup.sh all

# APT_PACKAGES: more packages on top of the release's list (kube-setup adds Kubernetes' own).
APT_PACKAGES ?=
host-packages:
	@scripts/setup.sh packages $(APT_PACKAGES)

venv:
	@scripts/setup.sh venv

# mypy cannot follow setuptools' editable finder (builder/ is recapp.builder), so it reads a tree of
# symlinks laid out as installed, made from pyproject's package-dir mapping (.typecheck/, not committed).
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@rm -rf .typecheck && $(VENV)/bin/python -c 'import tomllib, pathlib; \
	  root = pathlib.Path.cwd(); out = root / ".typecheck/recapp"; out.mkdir(parents=True); \
	  [(out / f.name).symlink_to(f) for f in (root / "recapp").iterdir() if f.name != "__pycache__"]; \
	  dirs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]; \
	  [(out / n.split(".", 1)[1]).symlink_to(root / d) for n, d in dirs.items() if n.count(".") == 1]'
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

# The slow source-image tests (build, static conformance); not part of `make test`.
test-source: images-source
	$(PYTEST) -m slow tests/e2e/test_source_images.py

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

test: setup lint
	$(PYTEST) -m "not slow" tests

quick: venv lint
	$(PYTEST) -m "not slow and not e2e and not k8s" tests

# Removes what an interrupted test run may have left (never recapp's cached images).
clean-test:
	-podman ps -aq --filter label=io.recapp.owner | xargs -r podman rm -f -t 0
	-podman volume ls -q --filter label=io.recapp.owner | xargs -r podman volume rm -f
	-podman network ls -q --filter label=io.recapp.owner | xargs -r podman network rm -f

# The full distro matrix: RECs trixie, sid × APPs bookworm, trixie, sid; JSON + Markdown + HTML + JUnit.
# `--source`: the source-flavor images join it when they exist (`make images-source`; too slow to build here).
matrix: images-all
	$(RECAPP) matrix --rec localhost/recapp/rec:trixie --rec localhost/recapp/rec:sid \
	  --app localhost/recapp/app-mpi:bookworm --app localhost/recapp/app-mpi:trixie --app localhost/recapp/app-mpi:sid \
	  --source --out matrix-out
	$(RECAPP) report matrix-out --out matrix-report

# Benchmarks on the default images, in a dated folder under bench-results/: workloads nested vs
# native vs traditional (alternating, 3 repeats), the launch variants and cluster up; records,
# report.md, report.html (plots), junit.xml. About 20 min on 2 cores; `make bench BENCH_ARGS=--quick`
# for a first look, BENCH_ARGS="--repeats 5" for tighter medians.
BENCH_ARGS ?=
bench: setup
	$(RECAPP) bench --suite $(SUITE) $(BENCH_ARGS)

# Issues 8 and 16: faults, soak (20 jobs with and without the DVM), 40 quick jobs on 4 nodes that must
# never hang, concurrency, bad input, the security report. CI (`make test`) runs the fast part of the same tests; this adds the slow ones.
RELIABILITY_OUT ?= reliability-out
reliability: setup images
	mkdir -p $(RELIABILITY_OUT)
	$(PYTEST) -m reliability tests --junitxml=$(RELIABILITY_OUT)/junit-reliability.xml
	$(PYTEST) tests/agent tests/kube/test_kubeconfig.py tests/kube/test_kube_errors.py \
	  "tests/e2e/test_cluster.py::test_node_killed_mid_job_ends_the_job_naming_it" \
	  "tests/e2e/test_cluster.py::test_node_that_never_becomes_ready_times_out_naming_it" \
	  "tests/e2e/test_cluster.py::test_not_a_rec_is_refused_before_anything_is_created" \
	  "tests/e2e/test_matrix.py::test_hung_probe_is_hang_within_the_timeout_and_leaves_nothing" \
	  --junitxml=$(RELIABILITY_OUT)/junit-earlier-faults.xml
	@$(VENV)/bin/python -c 'import json, pathlib, os; \
	  d = pathlib.Path(os.environ.get("RECAPP_HOME") or pathlib.Path.home() / ".local/state/recapp") / "reliability"; \
	  [print(p.name, "passed %(passed)s/%(jobs)s" % (r := json.loads(p.read_text())), "grown:", \
	   {k: (r["baseline"][k], r["last"][k]) for k in r["last"] if r["last"][k] > r["baseline"][k]}) \
	   for p in sorted(d.glob("soak-*.json"), key=lambda p: p.stat().st_mtime)[-2:]]'
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
	@test -x /usr/local/go/bin/go || { echo "error: Go is missing at /usr/local/go (needed to build Kubernetes from Go modules)" >&2; exit 2; }
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

test-kube: venv kube-setup
	@set -o pipefail; kc=$$($(LOCALKUBE)/up | tail -n 1) || exit $$?; export "$$kc"; \
	  export PATH="$$(source $(LOCALKUBE)/env.sh && echo "$$KUBE_BIN"):$$PATH"; \
	  for kind in "rec" "app" "app --workload nas"; do $(RECAPP) build $$kind --suite $(SUITE) >/dev/null || exit $$?; done; \
	  $(LOCALKUBE)/load-image $(KUBE_TEST_IMAGES) || exit $$?; \
	  export RECAPP_K8S_REC_IMAGE=localhost/recapp/rec:$(SUITE) RECAPP_K8S_PULL_POLICY=Never \
	    RECAPP_K8S_SECCOMP_PROFILE=recapp-nested-podman.json; \
	  rc=0; $(PYTEST) -m k8s tests/localkube tests/kube --ignore=tests/localkube/test_zz_down.py || rc=$$?; \
	  $(PYTEST) -m k8s tests/localkube/test_zz_down.py || { r=$$?; [ $$rc -ne 0 ] || rc=$$r; }; \
	  $(LOCALKUBE)/down; exit $$rc
