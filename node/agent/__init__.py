"""recapp-agent — the node pod's launch agent: starts PRRTE daemons for an authenticated caller.

It replaces sshd (and `kubectl exec`) in the separated model. It is the REC node container's main
process; PRRTE's `prterun` reaches it through `recapp-launch`, its `plm_ssh_agent`.

    recapp-agent serve [--port PORT] [--secret-file FILE] [--allow prted]...
                       [--tls-dir DIR] [--tls-name HOSTNAME]
                       [--bind 0.0.0.0] [--heartbeat 3] [--lost-after 15] [--subreaper]
    recapp-agent ping  [--host 127.0.0.1] [--port PORT] [--secret-file FILE] [--timeout 5]
                       [--tls-dir DIR] [--tls-name HOSTNAME] [--server-name HOSTNAME]

PORT and FILE default to protocol.AGENT_PORT and protocol.SECRET_FILE.

serve  exits 0 on SIGTERM/SIGINT (children's process groups get SIGTERM, then SIGKILL after 5 s)
       and 2 on bad arguments, an unreadable or empty secret, missing or unusable TLS files, an
       allowed program that is not there, or a port it cannot listen on. It reaps every child,
       including orphans re-parented to it (it is PID 1 in the container; `--subreaper` gives
       the same duty when it is not, e.g. under tests).
ping   the pod's readiness probe: exit 0 when the agent answers and proves the same secret,
       1 otherwise with a one-line reason on stderr. It connects with the node's own
       certificate and checks the agent's against --server-name (default: this hostname).

The wire protocol (mutual TLS 1.3, login limits, framing, HMAC handshake, streaming) is written
down in ../protocol.py.

What may run
------------
The request's argv is what ssh would have handed a remote shell: its words are joined with
spaces into one command line, exactly like ssh does. The agent never runs a shell; it parses the
line the way PRRTE's plm/ssh writes it (src/mca/plm/ssh/plm_ssh_module.c, setup_launch):

    [( test ! -r ./.profile || . ./.profile;]   (only for a sh/ksh login shell; dropped, never sourced)
    [cd DIR;]                                    (plm_ssh_chdir)
    [NAME=VALUE;export NAME;]...                 (PRTE_PREFIX, PMIX_PREFIX, [DY]LD_LIBRARY_PATH with --prefix)
    [NAME=VALUE ...] PROGRAM ARG...              (prted [--daemonize] --prtemca ess "env" ...)
    [)]

with POSIX quoting ('...', "...", backslash). Also understood: `export NAME=VALUE`, a leading
`exec`, and the probe `echo $SHELL` (plm_ssh_assume_same_shell=0), answered with /bin/bash so
PRRTE emits the syntax above. The csh form PRRTE writes when the launching user's login shell
is csh/tcsh (`setenv`, `if ( $?LD_LIBRARY_PATH == 1 ) ...`) is not understood: give that user
bash or sh (the REC's user has /bin/bash).
Refused, with a reason the client prints: any other statement or shell operator (`&&`, `|`, `&`,
redirections, subshells), command substitution (`$(...)`, backticks), `$` expansion outside the
ignored library-path assignments, unquoted globs, tilde and brace expansion, comments and
control characters, more than one command, and a PROGRAM that is not allowed.

PROGRAM must name an allowed executable (--allow, default `prted`), resolved once at start-up on
the agent's own PATH (never a PATH from the request): a bare name must equal the name of an
allowed entry (`--allow /opt/prrte/bin/prted` allows `prted` too); a path must be absolute and
be the same file (after symlinks) as an allowed one.

Environment of the command: the agent's own environment, plus assignments whose names start
with PRTE_, PMIX_ or OMPI_ (from the command line or the request's env). LD_LIBRARY_PATH and
DYLD_LIBRARY_PATH assignments (PRRTE's --prefix preamble) are ignored: the REC's loader setup
decides which libraries prted gets. Any other name (PATH, LD_PRELOAD, HOME, ...) is refused, so
a request cannot change what gets resolved or preloaded. The arguments themselves pass through
untouched (prted needs them), and prted's own options and PRTE_* variables (e.g.
PRTE_MCA_mca_base_component_path=/tmp/x prted, or --prtemca mca_base_component_path) can still
make it load code of the caller's choice: the launcher's certificate and the secret are a shell
login on every node, exactly as an ssh key is for PRRTE's ssh launcher. Treat them so. The
allow-list keeps a holder of them, or a confused launcher, from starting anything but the daemon
directly. A NUL byte anywhere in the request is refused with a reason (exec could not carry it).

The command starts without a shell, in a new session (its own process group), in DIR from `cd`,
else the request's cwd, else the agent's home directory.

Log: one line per request on stderr (time, peer, decision, argv[0], then pid or reason), and
one more when a started command exits or its client is lost.

Modules: `cmdline` reads the command line into shell words, `plan` decides what a request may
start, `request` checks a request's fields, `reaper` owns every child, `session` serves one
connection, `server` listens, `ping` is the readiness probe, `main` the command line.
"""
