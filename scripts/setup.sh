#!/bin/bash
# `make setup`: what the local backend needs on Debian 12 (bookworm) and 13 (trixie), idempotent.
#   scripts/setup.sh [packages [MORE…]|venv|go|all [MORE…]]   one line per step, details in .setup.log
#   scripts/setup.sh --list [CODENAME]     the host packages for a release (this host's by default)
# The package list is what a clean rootfs of each release really lacked (`make fresh-check`).
set -uo pipefail

cd "$(dirname "$0")/.."
LOG=${SETUP_LOG:-.setup.log}
PYTHON=${PYTHON:-python3}
VENV=.venv

# Every release: the engine (podman with its recommends: conmon, catatonit, slirp4netns,
# fuse-overlayfs …), buildah for builds, runc (crun refuses cgroup v1/hybrid hosts),
# uidmap (newuidmap for rootless podman), mmdebstrap for base images from Debian's archive,
# setcap (libcap2-bin), netavark + aardvark-dns (container networks and their names), and the
# Python that runs recapp itself (a fresh machine has no python3 at all), with the CA certificates
# pip needs for PyPI over HTTPS, and tcpdump for the launch-path capture test (no plaintext on the
# agent's port: tests/e2e/test_launch_path_security.py).
COMMON=(podman buildah runc uidmap mmdebstrap libcap2-bin iproute2 netavark aardvark-dns slirp4netns
  python3 python3-venv ca-certificates tcpdump)
# netavark drives the host firewall for every container on a network, with the tool its release
# expects: without it `podman run --network` fails with "netavark: No such file or directory".
FIREWALL_bookworm=(iptables)
FIREWALL_trixie=(nftables)
FIREWALL_sid=(nftables)

packages_for() {
  local fw="FIREWALL_$1[@]"
  declare -p "FIREWALL_$1" >/dev/null 2>&1 || { echo "error: make setup supports Debian bookworm, trixie and sid, not '$1'" >&2; return 2; }
  echo "${COMMON[@]}" "${!fw}"
}

codename() { (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-unknown}"); }

fail() {
  echo "error: $1 (details: $LOG)" >&2
  exit 2
}

packages_step() {
  local release wanted missing=() p t0
  release=$(codename)
  wanted="$(packages_for "$release") $*" || exit 2
  for p in $wanted; do
    dpkg-query -W -f '${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "host packages: all $(wc -w <<<"$wanted") present (Debian $release)"
    return
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: make setup needs root to apt-get install: ${missing[*]} (run it as root, or install them)" >&2
    exit 2
  fi
  echo "installing host packages: ${missing[*]}"
  t0=$(date +%s)
  {
    echo "== $(date -u +%FT%T) apt-get install ${missing[*]}"
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  } >>"$LOG" 2>&1 || fail "apt-get install failed: $(tail -1 "$LOG")"
  echo "host packages: installed ${#missing[@]} in $(($(date +%s) - t0)) s (Debian $release)"
}

# The live Kubernetes tests (`make test-kube`, run by CI after `make test`) build their cluster from
# Go modules (k8s/localkube): Kubernetes v1.37.2's go.mod says go 1.26.0, and Debian ships no Go that
# new, so Go comes from go.dev/dl unpacked at /usr/local/go, as k8s/localkube/env.sh expects.
GO=/usr/local/go/bin/go
GO_MIN=1.26

go_step() {
  local version
  [ -x $GO ] || fail "Go $GO_MIN+ is missing at /usr/local/go (make test-kube builds Kubernetes from Go modules): unpack go$GO_MIN.x from https://go.dev/dl/ there"
  version=$($GO env GOVERSION 2>>"$LOG") || fail "Go at /usr/local/go does not run: $GO env GOVERSION failed"
  version=${version#go}
  if [ "$(printf '%s\n%s\n' "$GO_MIN" "$version" | sort -V | head -1)" != "$GO_MIN" ]; then
    fail "Go at /usr/local/go is $version; Kubernetes v1.37.2 needs $GO_MIN+ (make test-kube): unpack a newer one from https://go.dev/dl/"
  fi
  echo "go: $version at /usr/local/go"
}

venv_step() {
  local t0 created=0
  if [ -f $VENV/.installed ] && [ $VENV/.installed -nt pyproject.toml ]; then
    echo "venv: $VENV up to date"
    return
  fi
  command -v "$PYTHON" >/dev/null || fail "venv: $PYTHON not found: run \`make setup\` as root (apt-get install python3 python3-venv)"
  t0=$(date +%s)
  echo "== $(date -u +%FT%T) venv $VENV, pip install -e .[dev]" >>"$LOG"
  if [ ! -x $VENV/bin/python ]; then
    "$PYTHON" -m venv $VENV >>"$LOG" 2>&1 || { rm -rf $VENV; fail "venv: $PYTHON -m venv failed: $(tail -1 "$LOG")"; }
    created=1
  fi
  if ! { $VENV/bin/python -m pip install --upgrade pip && $VENV/bin/python -m pip install -e '.[dev]'; } >>"$LOG" 2>&1; then
    [ $created -eq 1 ] && rm -rf $VENV # nothing half-made: a venv this run created goes again
    fail "venv: pip install -e .[dev] failed: $(tail -1 "$LOG")"
  fi
  touch $VENV/.installed
  echo "venv: $VENV ready (pip install -e .[dev], $(($(date +%s) - t0)) s)"
}

case ${1:-all} in
  --list) packages_for "${2:-$(codename)}" | tr ' ' '\n' ;;
  packages) shift; packages_step "$@" ;;
  venv) venv_step ;;
  go) go_step ;;
  all) shift; packages_step "$@" && go_step && venv_step ;;
  *) echo "usage: scripts/setup.sh [packages [MORE…]|venv|go|all [MORE…]] | --list [CODENAME]" >&2; exit 2 ;;
esac
