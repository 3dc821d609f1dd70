# shellcheck shell=bash
# Helpers of up/down (sourced): background daemons with pid files, waiting, rendering.

die() { echo "error: $*" >&2; exit 2; }
log() { echo "[localkube $(date +%H:%M:%S)] $*" >&2; }

# The pid in $KUBE_RUN/NAME.pid if that process is alive and is still NAME's binary.
daemon_pid() {
  local f="$KUBE_RUN/$1.pid" pid
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ -n $pid && -e /proc/$pid ]] || return 1
  [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$KUBE_BIN/$1" ]] || return 1
  echo "$pid"
}

# start_daemon NAME ARGS...: runs $KUBE_BIN/NAME detached (own session, so it
# outlives `make`), output in $KUBE_LOGS/NAME.log. Already running: nothing done.
start_daemon() {
  local name=$1
  shift
  if daemon_pid "$name" >/dev/null; then
    log "$name already running"
    return 0
  fi
  mkdir -p "$KUBE_RUN" "$KUBE_LOGS"
  setsid "$KUBE_BIN/$name" "$@" </dev/null >>"$KUBE_LOGS/$name.log" 2>&1 &
  echo $! >"$KUBE_RUN/$name.pid"
  log "$name started (pid $!, log $KUBE_LOGS/$name.log)"
}

# stop_daemon NAME [GRACE_S]: TERM, then KILL after GRACE_S (default 20) seconds; waits until it is gone.
stop_daemon() {
  local name=$1 grace=${2:-20} pid
  pid=$(daemon_pid "$name") || { rm -f "$KUBE_RUN/$name.pid"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 $((grace * 10))); do
    [[ -e /proc/$pid ]] || break
    sleep 0.1
  done
  if [[ -e /proc/$pid ]]; then
    log "$name did not stop on TERM: KILL"
    kill -KILL "$pid" 2>/dev/null || true
    while [[ -e /proc/$pid ]]; do sleep 0.1; done
  fi
  rm -f "$KUBE_RUN/$name.pid"
  log "$name stopped"
}

# wait_until SECONDS WHAT CMD...: retries CMD every second; on timeout names WHAT
# and the log to read.
wait_until() {
  local secs=$1 what=$2
  shift 2
  local end=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || die "$what not ready after ${secs}s (logs: $KUBE_LOGS)"
    sleep 1
  done
}

# render TEMPLATE OUT: ${VAR} of env.sh substituted, nothing else touched.
render() {
  local vars
  vars=$(compgen -v | grep '^KUBE_\|^COREFILE$' | sed 's/^/${/; s/$/}/' | tr '\n' ' ')
  envsubst "$vars" <"$1" >"$2.tmp"
  mv "$2.tmp" "$2"
}

# api_get PATH: GET on the API server as admin (curl: works before kubectl is built).
api_get() {
  curl -fsS --max-time 5 --cacert "$KUBE_PKI/ca.crt" --cert "$KUBE_PKI/admin.crt" --key "$KUBE_PKI/admin.key" \
    "https://$KUBE_NODE_IP:$KUBE_API_PORT$1"
}

kubectl_admin() { "$KUBE_BIN/kubectl" --kubeconfig "$KUBE_ADMIN_KUBECONFIG" "$@"; }

# The sysctls the kubelet sets when protectKernelDefaults is false (its default):
# saved by `up`, restored by `down`.
KUBE_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops
  kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
