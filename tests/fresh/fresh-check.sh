#!/bin/bash
# `make fresh-check HOST=bookworm|trixie`: the README's two commands on a brand-new Debian machine.
#
# A clean rootfs of HOST from Debian's archive (mmdebstrap, variant "important": what a minimal
# installed Debian has, plus `make` so the user can type the command), the repository's HEAD copied
# in (git archive: no venv, no build output), then, inside a privileged podman container on that
# rootfs (its own /var/lib/containers lives in the rootfs, so its images die with it):
# `make setup`, `recapp doctor`, `make demo`, as root, as a fresh machine would run them.
# One line per step here; everything in the log. Leaves nothing behind: the container, and the
# rootfs with every image, container, volume and network made inside it, are removed on exit.
set -uo pipefail

HOST=${1:?usage: fresh-check.sh bookworm|trixie|sid [LOG]}
REPO=$(git rev-parse --show-toplevel)
LOG=${2:-$REPO/fresh-check-$HOST.log}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
case $HOST in bookworm | trixie | sid) ;; *) echo "error: HOST must be bookworm, trixie or sid, not '$HOST'" >&2; exit 2 ;; esac
[ "$(id -u)" -eq 0 ] || { echo "error: fresh-check needs root (mmdebstrap --mode=root, a privileged container)" >&2; exit 2; }
for tool in mmdebstrap podman git; do
  command -v $tool >/dev/null || { echo "error: fresh-check needs $tool on this host (make setup)" >&2; exit 2; }
done

WORK=$(mktemp -d "/var/tmp/recapp-fresh-$HOST-XXXXXX")
ROOTFS=$WORK/rootfs
NAME=recapp-fresh-$HOST-$$
START=$(date +%s)
: >"$LOG"

cleanup() {
  [ -d "$WORK" ] || return 0
  podman rm -f -t 0 "$NAME" >>"$LOG" 2>&1
  # mounts an interrupted run may have left on the rootfs (none expected: they live in the container)
  findmnt -rn -o TARGET | grep "^$ROOTFS" | sort -r | xargs -r umount -l >>"$LOG" 2>&1
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "$*"; echo "== $(date -u +%T) $*" >>"$LOG"; }

# step NAME CMD...: run CMD inside the fresh machine, output to the log, one line here.
step() {
  local name=$1 t0 rc
  shift
  t0=$(date +%s)
  echo "== $(date -u +%T) step $name: $*" >>"$LOG"
  podman exec -w /root/recapp -e HOME=/root -e COLUMNS=150 -e TERM=dumb "$NAME" bash -lc "$*" >>"$LOG" 2>&1
  rc=$?
  printf '%-8s %-4s %4d s\n' "$name" "$([ $rc -eq 0 ] && echo ok || echo FAIL)" $(($(date +%s) - t0))
  echo "== $(date -u +%T) step $name: exit $rc after $(($(date +%s) - t0)) s" >>"$LOG"
  return $rc
}

summary() {
  local verdict=$1 installed passed
  installed=$(sed -n 's/^fresh-check: installed by make setup: //p' "$LOG" | tail -1)
  # rows of the demo's table (after its title line) whose result is PASS
  passed=$(awk '/every job nested/ {t = 1} t && /(hello|init_finalize|ring|ep\.S\.x|pingpong|gmx-water)/ && /PASS/ {n++}
    END {print n + 0}' "$LOG")
  echo "fresh-check $HOST: $verdict in $(awk "BEGIN{printf \"%.1f\", ($(date +%s) - $START)/60}") min;" \
    "demo jobs PASS: $passed; packages installed by make setup: ${installed:-none};" \
    "$([ -d "$WORK" ] && echo "left: $WORK" || echo "rootfs and container removed"); log: $LOG" | tee -a "$LOG"
}

# The sid Release file is expired on the mirror; the signatures are still checked.
say "rootfs: mmdebstrap --variant=important $HOST"
if ! mmdebstrap --variant=important --mode=root --include=make \
  '--aptopt=Acquire::Check-Valid-Until "false"' "$HOST" "$ROOTFS" "$MIRROR" >>"$LOG" 2>&1; then
  echo "error: mmdebstrap $HOST failed: $(tail -1 "$LOG")" >&2
  cleanup; summary FAIL
  exit 1
fi
# The site's network intercepts TLS: every machine here is given the site's CA certificates (and the
# pip.conf pointing at the system store), so the fresh one gets them too. Nothing else of this host.
cp -a /usr/local/share/ca-certificates/. "$ROOTFS/usr/local/share/ca-certificates/" 2>>"$LOG"
[ -f /etc/pip.conf ] && cp /etc/pip.conf "$ROOTFS/etc/pip.conf"
mkdir -p "$ROOTFS/root/recapp"
git -C "$REPO" archive HEAD | tar -x -C "$ROOTFS/root/recapp"
say "repository: $(git -C "$REPO" log -1 --format='%h %s' | cut -c1-100)"

# The harness's own container, not recapp: on a cgroup v1/hybrid host crun refuses to run, so the
# outer container uses runc there; ulimits at this host's hard limits (podman's defaults exceed them).
# podman lowers its own nproc to kernel.pid_max as it starts, so a container may not ask for more.
nofile=$(ulimit -Hn) nproc=$(ulimit -Hu) pid_max=$(cat /proc/sys/kernel/pid_max)
[ "$nproc" = unlimited ] || [ "$nproc" -gt "$pid_max" ] && nproc=$pid_max
runtime=()
[ -d /sys/fs/cgroup/unified ] && command -v runc >/dev/null && runtime=(--runtime runc)
# Go is the one prerequisite not from Debian (`make setup` checks for it: make test-kube builds
# Kubernetes from Go modules); the fresh machine gets this host's, read-only, as if unpacked by hand.
gomount=()
[ -x /usr/local/go/bin/go ] && gomount=(-v /usr/local/go:/usr/local/go:ro)
podman run -d --name "$NAME" --hostname "fresh-$HOST" --privileged --init "${runtime[@]}" "${gomount[@]}" \
  --ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$nproc:$nproc" \
  --label io.recapp.fresh-check="$HOST" --rootfs "$ROOTFS" sleep infinity >>"$LOG" 2>&1 ||
  { echo "error: could not start the fresh machine's container: $(tail -1 "$LOG")" >&2; cleanup; summary FAIL; exit 1; }

# What `make setup` installed: the packages present after it and not before it.
podman exec "$NAME" dpkg-query -W -f '${Package}\n' | sort >"$WORK/before"
echo "fresh-check: the clean rootfs: $(wc -l <"$WORK/before") packages; of python3, iptables, nftables it has:" \
  "$(grep -xE 'python3|iptables|nftables' "$WORK/before" | tr '\n' ' ')" >>"$LOG"
step setup make setup
rc=$?
# make setup's own log dies with the rootfs: keep it in ours
{ echo "== .setup.log:"; podman exec "$NAME" cat /root/recapp/.setup.log; } >>"$LOG" 2>&1
podman exec "$NAME" dpkg-query -W -f '${Package}\n' | sort >"$WORK/after"
echo "fresh-check: installed by make setup: $(comm -13 "$WORK/before" "$WORK/after" | wc -l) packages:" \
  "$(comm -13 "$WORK/before" "$WORK/after" | tr '\n' ' ')" >>"$LOG"
# The ones the Makefile asked for by name (the rest came as their dependencies).
echo "fresh-check: installed by make setup: $(sed -n 's/^installing host packages: //p' "$LOG" | tail -1)" >>"$LOG"
[ $rc -eq 0 ] && step doctor .venv/bin/recapp doctor && step demo make demo
rc=$?
cleanup # before the summary, so its last line is said with nothing left behind
summary "$([ $rc -eq 0 ] && echo PASS || echo FAIL)"
exit $rc
