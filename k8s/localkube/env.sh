# shellcheck shell=bash
# Shared settings of the localkube scripts (sourced, never run).
# v1.37.2: newest release on the module proxy; it builds with Go 1.26 (its go.mod
# says go 1.26.0) and its kubelet still starts on cgroup v1 with failCgroupV1: false
# (KEP-5573: default true since 1.35, the override kept in 1.37).
: "${KUBE_RELEASE:=v1.37.2}"
: "${KUBE_CACHE:=$HOME/.cache/recapp/kube}"
: "${KUBE_STATE:=$HOME/.local/state/recapp-kube}"
export KUBE_RELEASE KUBE_CACHE KUBE_STATE
export GOTOOLCHAIN=local
export PATH="/usr/local/go/bin:$PATH"

KUBE_BIN="$KUBE_CACHE/$KUBE_RELEASE/bin"
KUBE_IMAGES="$KUBE_CACHE/$KUBE_RELEASE/images"
KUBE_LOCALKUBE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBE_PKI="$KUBE_STATE/pki"
KUBE_LOGS="$KUBE_STATE/logs"
KUBE_RUN="$KUBE_STATE/run"
KUBE_ADMIN_KUBECONFIG="$KUBE_STATE/admin.kubeconfig"

# The node: this host, named after it; the API server advertises the host's
# address of its default route so pods reach it through the kubernetes Service.
KUBE_NODE_NAME="$(hostname | tr '[:upper:]' '[:lower:]')"
KUBE_NODE_IP="$(ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1)}')"
: "${KUBE_NODE_IP:=127.0.0.1}"

# Address plan: clear of podman's 10.88/10.89 networks.
KUBE_POD_CIDR=10.244.0.0/24
KUBE_SERVICE_CIDR=10.96.0.0/16
KUBE_APISERVICE_IP=10.96.0.1
KUBE_DNS_IP=10.96.0.10
KUBE_CLUSTER_DOMAIN=cluster.local
KUBE_BRIDGE=rkube0

# Ports: etcd off its usual ones so a host etcd, if any, is left alone.
KUBE_API_PORT=6443
KUBE_ETCD_PORT=23790
KUBE_ETCD_PEER_PORT=23800

# containerd's own places (not /run/containerd, /var/lib/containerd: those may
# belong to a containerd the host already runs).
KUBE_CTD_ROOT=/var/lib/recapp-kube/containerd
KUBE_CTD_STATE=/run/recapp-kube/containerd
KUBE_CTD_SOCK=/run/recapp-kube/containerd/containerd.sock
# kubelet's root stays the standard one: seccomp profiles are looked up in
# <root-dir>/seccomp, and pod specs name them relative to it.
KUBE_KUBELET_ROOT=/var/lib/kubelet
KUBE_CNI_CONF_DIR=/etc/cni/recapp-kube.d
KUBE_CNI_BIN_DIR=/usr/lib/cni

KUBE_PAUSE_IMAGE=localhost/recapp-kube/pause:3.10
KUBE_COREDNS_IMAGE=localhost/recapp-kube/coredns:v1.14.6
KUBE_BUSYBOX_IMAGE=localhost/recapp-kube/busybox:1.35

export KUBE_BIN KUBE_IMAGES KUBE_LOCALKUBE KUBE_PKI KUBE_LOGS KUBE_RUN KUBE_ADMIN_KUBECONFIG
export KUBE_NODE_NAME KUBE_NODE_IP KUBE_POD_CIDR KUBE_SERVICE_CIDR KUBE_APISERVICE_IP KUBE_DNS_IP
export KUBE_CLUSTER_DOMAIN KUBE_BRIDGE KUBE_API_PORT KUBE_ETCD_PORT KUBE_ETCD_PEER_PORT
export KUBE_CTD_ROOT KUBE_CTD_STATE KUBE_CTD_SOCK KUBE_KUBELET_ROOT KUBE_CNI_CONF_DIR KUBE_CNI_BIN_DIR
export KUBE_PAUSE_IMAGE KUBE_COREDNS_IMAGE KUBE_BUSYBOX_IMAGE
