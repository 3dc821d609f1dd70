"""Names and paths shared by the virtual-cluster objects and every backend that realises them.

The Kubernetes objects (objects.py) and the local podman backend both read these, so a mount path or
a label key is spelt once.
"""

from __future__ import annotations

from typing import Final

from recapp.node import pods, protocol

# --- labels ---------------------------------------------------------------------------------------
LABEL_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_CLUSTER: Final = "recapp.io/cluster"
APP_NAME: Final = "recapp"
MANAGED_BY: Final = "recapp"

# Values of LABEL_COMPONENT.
COMPONENT_CLUSTER: Final = "cluster"  # the Namespace
COMPONENT_RBAC: Final = "rbac"  # ServiceAccount, Role, RoleBinding
COMPONENT_AGENT: Final = "agent"  # the agent Secret
COMPONENT_NETWORK: Final = "network"  # the headless Service
COMPONENT_NODE: Final = "node"  # the StatefulSet and its pods
COMPONENT_LOGIN: Final = "login"  # the login Job and its pod

# --- name suffixes: <cluster name><suffix> --------------------------------------------------------
NODE_STATEFULSET_SUFFIX: Final = "-node"  # pods are <name>-node-0, <name>-node-1, …
NODES_SERVICE_SUFFIX: Final = "-nodes"
LOGIN_JOB_SUFFIX: Final = "-login"
AGENT_SECRET_SUFFIX: Final = "-agent"
NAMESPACE_PREFIX: Final = "recapp-"

# --- containers -----------------------------------------------------------------------------------
NODE_CONTAINER: Final = "node"
LOGIN_CONTAINER: Final = "login"
WAIT_NODES_CONTAINER: Final = "wait-nodes"
# The login container's PID 1: a static init in the REC that reaps what jobs leave behind (prterun's
# ssh-agent children are re-parented to PID 1 when prterun exits). `-P`: no child, just reap and wait.
LOGIN_INIT_COMMAND: Final = ("/usr/bin/catatonit", "-P")

# --- the launch agent -----------------------------------------------------------------------------
# The port and the secret's path are the node programs' own (recapp.node.protocol).
DEFAULT_AGENT_PORT: Final = protocol.AGENT_PORT
AGENT_PORT_NAME: Final = "agent"
AGENT_SECRET_DIR: Final = protocol.SECRET_DIR
AGENT_SECRET_KEY: Final = protocol.SECRET_FILE.rpartition("/")[2]  # key in the Secret = file name in the dir
AGENT_SECRET_FILE: Final = protocol.SECRET_FILE
AGENT_SECRET_MODE: Final = 0o440  # owner root, group = fsGroup (the rec group): readable by rec only
AGENT_SECRET_BYTES: Final = 32  # secrets.token_hex(32): 64 hex characters

# PRRTE spawns its daemons through `plm_ssh_agent`; each launcher puts its own command there.
PLM_AGENT_ENV: Final = "PRTE_MCA_plm_ssh_agent"
AGENT_LAUNCH_COMMAND: Final = "recapp-launch"  # talks to the node's agent; in the REC image
KUBEXEC_LAUNCH_COMMAND: Final = "/usr/local/bin/recapp-kubexec"  # `kubectl exec` wrapper; in the REC image

# --- volumes: name -> mount path ------------------------------------------------------------------
STORAGE_VOLUME: Final = "storage"  # rootless podman's storage inside the node (volumeClaimTemplate)
STORAGE_MOUNT: Final = "/home/rec/.local/share/containers"
IMAGES_VOLUME: Final = "images"  # APP image tarballs are delivered here
IMAGES_MOUNT: Final = "/var/lib/recapp/images"
AGENT_SECRET_VOLUME: Final = "agent-secret"
SHM_VOLUME: Final = "dshm"
SHM_MOUNT: Final = "/dev/shm"
HOSTFILE_VOLUME: Final = "hostfile"  # shared by wait-nodes (writer) and the login container (reader)
HOSTFILE_DIR: Final = "/etc/recapp/hostfile"
HOSTFILE_PATH: Final = f"{HOSTFILE_DIR}/{pods.HOSTFILE}"  # lines: <pod>.<service> slots=N
HOSTFILE_IP_PATH: Final = f"{HOSTFILE_DIR}/{pods.HOSTFILE_IP}"  # lines: <pod IP> slots=N

# --- environment ----------------------------------------------------------------------------------
ENV_CLUSTER: Final = "RECAPP_CLUSTER"
ENV_NAMESPACE: Final = "RECAPP_NAMESPACE"
ENV_AGENT_PORT: Final = "RECAPP_AGENT_PORT"
ENV_AGENT_SECRET_FILE: Final = "RECAPP_AGENT_SECRET_FILE"
ENV_IMAGES_DIR: Final = "RECAPP_IMAGES_DIR"
ENV_HOSTFILE: Final = "RECAPP_HOSTFILE"

# --- defaults -------------------------------------------------------------------------------------
DEFAULT_UID: Final = 998
DEFAULT_GID: Final = 995
DEFAULT_SLOTS_PER_NODE: Final = 2
DEFAULT_READY_TIMEOUT_S: Final = 300
DEFAULT_STORAGE_SIZE: Final = "10Gi"

# --- Pod Security admission labels on the namespace recapp creates ------------------------------------
POD_SECURITY_LEVEL: Final = "baseline"
