"""Fixtures for the launch agent tests: real `recapp-agent` and `recapp-launch` processes on 127.0.0.1.

Both are programs of the stdlib-only node package (recapp.node), installed here below a scratch
prefix exactly as the builder installs them into the REC image (entry points + package copy), and
run under the test's Python as subprocesses. Every process a test starts (agents, clients, and
whatever the fake `prted` records in its pid files) is killed when the test ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from recapp.k8s import pki
from recapp.node import install

SECRET = "correct horse battery staple"
# The interpreter the two tools run under; set it to check another version (the REC has 3.13).
TOOLS_PYTHON = os.environ.get("RECAPP_TOOLS_PYTHON", sys.executable)

# The stand-in for prted. It records every start in runs.log (so a refused request can be shown
# never to have run it) and does what PRTE_TEST_MODE asks; PRTE_* names are ones the agent lets
# through, so the tests steer it from the command line the way PRRTE passes its own variables.
FAKE_PRTED = """
import json, os, signal, subprocess, sys, time
STATE = {state!r}
with open(os.path.join(STATE, "runs.log"), "a") as log:
    log.write(f"{{os.getpid()}}\\n")
mode = os.environ.get("PRTE_TEST_MODE", "report")
if mode == "report":
    stdin = sys.stdin.read()
    keep = ("PRTE_PREFIX", "PMIX_PREFIX", "PRTE_TEST_MODE", "LD_LIBRARY_PATH", "PATH", "LD_PRELOAD")
    print(json.dumps({{
        "argv0": sys.argv[0], "args": sys.argv[1:], "cwd": os.getcwd(), "stdin": stdin,
        "env": {{name: os.environ.get(name) for name in keep}},
        "sighup": signal.getsignal(signal.SIGHUP).name,  # SIG_IGN is inherited across exec
    }}), flush=True)
    print("err-line", file=sys.stderr, flush=True)
    sys.exit(int(os.environ.get("PRTE_TEST_CODE", "0")))
if mode == "sleep":
    # A child in the same process group, as prted's own children would be.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    with open(os.path.join(STATE, "group.pids.tmp"), "w") as out:
        out.write(f"{{os.getpid()}} {{child.pid}}\\n")
    os.rename(os.path.join(STATE, "group.pids.tmp"), os.path.join(STATE, "group.pids"))
    print("started", flush=True)
    time.sleep(300)
if mode == "daemonize":
    # prted --daemonize: the launched process exits at once; a detached grandchild lives on.
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            with open(os.path.join(STATE, "daemon.pids"), "w") as out:
                out.write(f"{{os.getpid()}}\\n")
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            time.sleep(float(os.environ.get("PRTE_TEST_LINGER", "1")))
            os._exit(0)
        os._exit(0)
    os.wait()
    sys.exit(0)
"""


def write_program(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!{sys.executable}\n{textwrap.dedent(body)}")
    path.chmod(0o755)
    return path


def is_alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (whoever its parent is)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def force_kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            try:
                os.kill(process.pid, sig)
            except ProcessLookupError:
                break
        process.wait(5)
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()


@dataclass
class Agent:
    """A running `recapp-agent serve` and how to talk to it."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    secret_file: Path
    state: Path
    tools: dict[str, Path]  # program name -> its entry point below the scratch prefix
    tls: TlsFiles
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def log(self) -> str:
        return self.log_path.read_text()

    def runs(self) -> list[str]:
        runs = self.state / "runs.log"
        return runs.read_text().split() if runs.exists() else []

    def client_env(self, secret_file: Path | None = None, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["RECAPP_AGENT_PORT"] = str(self.port)
        env["RECAPP_AGENT_SECRET_FILE"] = str(secret_file or self.secret_file)
        env["RECAPP_AGENT_TLS_DIR"] = str(self.tls.dir)
        env.update(extra)
        return env

    def launch(
        self, *args: str, stdin: bytes = b"", timeout: float = 15, secret_file: Path | None = None, **env: str
    ) -> subprocess.CompletedProcess[bytes]:
        """Run `recapp-launch ARGS...` to completion against this agent."""
        return subprocess.run(
            [TOOLS_PYTHON, str(self.tools["recapp-launch"]), *args],
            input=stdin,
            capture_output=True,
            timeout=timeout,
            env=self.client_env(secret_file, **env),
        )

    def start_launch(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """Start `recapp-launch ARGS...` in the background (killed at teardown)."""
        process = subprocess.Popen(
            [TOOLS_PYTHON, str(self.tools["recapp-launch"]), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.client_env(**env),
        )
        self.started.append(process)
        return process

    def ping(
        self, secret_file: Path | None = None, port: int | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        """Run `recapp-agent ping` against this agent (or another port)."""
        argv = [
            TOOLS_PYTHON,
            str(self.tools["recapp-agent"]),
            "ping",
            "--host",
            "127.0.0.1",
            "--port",
            str(port or self.port),
        ]
        argv += ["--secret-file", str(secret_file or self.secret_file), "--timeout", "3"]
        argv += ["--tls-dir", str(self.tls.dir), "--tls-name", NODE_NAME]
        return subprocess.run(argv, capture_output=True, timeout=15)

    def other_secret(self, text: str) -> Path:
        return write_secret(self.state / f"secret-{len(list(self.state.glob('secret-*')))}", text)

    def still_alive(self, pids: list[int], timeout: float) -> list[int]:
        """Waits up to `timeout` for the pids to go; those still running."""
        wait_until(lambda: not any(map(is_alive, pids)), timeout)
        return [pid for pid in pids if is_alive(pid)]

    def group_pids(self, timeout: float = 10) -> list[int]:
        """Pids the fake prted in 'sleep' mode wrote: itself and its child."""
        path = self.state / "group.pids"
        assert wait_until(path.exists, timeout), "the launched program never started"
        return [int(pid) for pid in path.read_text().split()]


NODE_NAME = "node"  # the agent's pair: node.crt/node.key, naming "node", "localhost" and 127.0.0.1
OTHER_NODE = "node-b"


@dataclass
class TlsFiles:
    """One test cluster's TLS directory, and another cluster's (whose certificates must not work)."""

    dir: Path
    foreign: Path


def write_tls(base: Path) -> TlsFiles:
    def make(where: Path, cluster: str) -> None:
        ca = pki.make_ca(cluster, 1)
        node = pki.issue_node_cert(ca, NODE_NAME, [NODE_NAME, "localhost", "127.0.0.1"])
        # Another node of the same cluster: a valid certificate, but not for the name a client dials.
        other = pki.issue_node_cert(ca, OTHER_NODE, [OTHER_NODE])
        launcher = pki.issue_client_cert(ca)
        where.mkdir(mode=0o700)
        files = {
            "ca.crt": ca.cert_pem,
            f"{NODE_NAME}.crt": node.cert_pem,
            f"{NODE_NAME}.key": node.key_pem,
            f"{OTHER_NODE}.crt": other.cert_pem,
            f"{OTHER_NODE}.key": other.key_pem,
            "launcher.crt": launcher.cert_pem,
            "launcher.key": launcher.key_pem,
        }
        for name, data in files.items():
            (where / name).write_bytes(data)
            (where / name).chmod(0o600)

    make(base / "tls", "test")
    make(base / "tls" / "foreign", "foreign")  # where the security report's attack script looks
    return TlsFiles(base / "tls", base / "tls" / "foreign")


def write_secret(path: Path, text: str) -> Path:
    path.write_text(text + "\n")  # a trailing newline, as `kubectl create secret --from-file` keeps
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def agent_factory(base: Path, tools: dict[str, Path]) -> Iterator[Callable[..., Agent]]:
    """Start agents on free ports with the fake prted on their PATH; stop them all on exit."""
    agents: list[Agent] = []
    state = base / "state"
    state.mkdir()
    bin_dir = base / "bin"
    write_program(bin_dir / "prted", FAKE_PRTED.format(state=str(state)))
    tls = write_tls(base)

    def start(
        *extra_args: str, allow: tuple[str, ...] = ("prted",), env: dict[str, str] | None = None
    ) -> Agent:
        secret_file = write_secret(base / "secret", SECRET)
        log_path = base / f"agent-{len(agents)}.log"
        agent_env = dict(os.environ)
        agent_env["PATH"] = f"{bin_dir}{os.pathsep}{agent_env.get('PATH', '')}"
        agent_env.update(env or {})
        argv = [TOOLS_PYTHON, str(tools["recapp-agent"]), "serve", "--port", "0", "--bind", "127.0.0.1"]
        argv += ["--secret-file", str(secret_file), "--subreaper", *extra_args]
        argv += ["--tls-dir", str(tls.dir), "--tls-name", NODE_NAME]
        for program in allow:
            argv += ["--allow", program]
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(argv, stdout=log_file, stderr=log_file, env=agent_env, cwd=base)
        listening = re.compile(r"listening on 127\.0\.0\.1:(\d+)")
        assert wait_until(
            lambda: bool(listening.search(log_path.read_text())) or process.poll() is not None, 10
        )
        match = listening.search(log_path.read_text())
        assert match, f"agent did not start: {log_path.read_text()}"
        agent = Agent(process, int(match.group(1)), log_path, secret_file, state, tools, tls)
        agents.append(agent)
        return agent

    try:
        yield start
    finally:
        for agent in agents:
            for client in agent.started:
                force_kill(client)
        # Kill what the fake prted left behind while its agent (a subreaper) can still reap it.
        for pid_file in state.glob("*.pids"):
            for pid in map(int, pid_file.read_text().split()):
                if is_alive(pid):
                    os.kill(pid, signal.SIGKILL)
        for agent in agents:
            stop_agent(agent.process)


@pytest.fixture(scope="session")
def node_tools(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The node programs as the REC has them: program name -> entry point below a scratch prefix."""
    return install.install(tmp_path_factory.mktemp("node-prefix"))


@pytest.fixture
def start_agent(tmp_path: Path, node_tools: dict[str, Path]) -> Iterator[Callable[..., Agent]]:
    """Factory for agents private to one test: `start_agent(*serve_args, allow=..., env=...)`."""
    with agent_factory(tmp_path, node_tools) as start:
        yield start


@pytest.fixture(scope="module")
def shared_agent(tmp_path_factory: pytest.TempPathFactory, node_tools: dict[str, Path]) -> Iterator[Agent]:
    """One default agent for a whole module of tests that never start anything on it."""
    with agent_factory(tmp_path_factory.mktemp("shared-agent"), node_tools) as start:
        yield start()


def stop_agent(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM first, so the agent stops its own commands; SIGKILL if it does not go."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGCONT)  # in case a test froze it
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            force_kill(process)


@pytest.fixture
def run_agent_cli(node_tools: dict[str, Path]) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    """Run `recapp-agent ARGS...` to completion (for commands expected to end by themselves)."""

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        agent = str(node_tools["recapp-agent"])
        return subprocess.run([TOOLS_PYTHON, agent, *args], capture_output=True, timeout=15)

    return run


@pytest.fixture(name="write_tls")
def write_tls_fixture() -> Callable[[Path], TlsFiles]:
    """Write a test cluster's TLS directory (and a foreign one) under a base directory."""
    return write_tls


@pytest.fixture(name="write_program")
def write_program_fixture() -> Callable[[Path, str], Path]:
    """Write an executable Python script (shebang: this interpreter)."""
    return write_program


@pytest.fixture
def agent(start_agent: Callable[..., Agent]) -> Agent:
    """An agent with default settings that allows only the fake prted."""
    return start_agent()
