"""Launching through recapp-launch -> recapp-agent, with command lines shaped as PRRTE writes them.

The PRRTE shapes follow src/mca/plm/ssh/plm_ssh_module.c (setup_launch) and
src/mca/plm/base/plm_base_launch_support.c (prte_plm_base_prted_append_basic_args, which adds
the `--prtemca NAME VALUE` triples, and prte_plm_base_wrap_args, which double-quotes each VALUE).
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import Agent

HNP_URI = "prterun-login-0-4242@0.0;tcp://10.244.1.7,172.17.0.1:40123:24,16"


def prted_args(*extra: str) -> list[str]:
    """The daemon options PRRTE appends after the command string, values wrapped in quotes."""
    triples = [
        ("ess", "env"),
        ("ess_base_nspace", "prterun-login-0-4242@0"),
        ("ess_base_vpid", "1"),
        ("ess_base_num_procs", "3"),
        ("prte_hnp_uri", HNP_URI),
        ("plm_ssh_agent", "recapp-launch"),
        ("plm", "ssh"),
    ]
    args: list[str] = []
    for name, value in triples:
        args += ["--prtemca", name, f'"{value}"']
    return [*args, *extra]


def unwrapped(args: list[str]) -> list[str]:
    """What a remote shell makes of the wrapped arguments: the quotes removed."""
    return [arg[1:-1] if arg.startswith('"') and arg.endswith('"') else arg for arg in args]


def report(result: subprocess.CompletedProcess[bytes]) -> dict:
    assert result.returncode == 0, result.stderr.decode()
    return json.loads(result.stdout.decode().splitlines()[0])


def test_launch_streams_stdout_stderr_and_exit_code(agent: Agent) -> None:
    result = agent.launch("127.0.0.1", "PRTE_TEST_CODE=7", "prted", "plain", "'two words'")

    assert result.returncode == 7
    lines = result.stdout.decode().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0])["args"] == ["plain", "two words"]
    assert result.stderr.decode() == "err-line\n"
    assert len(agent.runs()) == 1


def test_the_command_gets_default_signal_dispositions(agent: Agent) -> None:
    # The agent must not hand prted (and through it every rank) an ignored SIGHUP.
    result = agent.launch("127.0.0.1", "prted")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["sighup"] == "SIG_DFL"


def test_stdin_is_forwarded_to_the_command(agent: Agent) -> None:
    # PRRTE 5+ writes the DVM key down the agent's stdin for prted to read (prte_dvm_key_stdin).
    key = "0123456789abcdef" * 4 + "\n"

    result = agent.launch("127.0.0.1", "prted", stdin=key.encode())

    assert report(result)["stdin"] == key


def test_minus_n_closes_stdin_like_ssh(agent: Agent) -> None:
    result = agent.launch("-n", "127.0.0.1", "prted", stdin=b"must not arrive")

    assert report(result)["stdin"] == ""


def test_prrte_3_tree_spawn_command(agent: Agent) -> None:
    # PRRTE 3.0 default (tree spawn, bash login shell, no --prefix): no preamble and no
    # --daemonize, so prted stays attached to the agent for the whole job.
    args = prted_args("--tree-spawn", "--prtemca", "prte_parent_uri", f'"{HNP_URI}"')

    result = agent.launch("127.0.0.1", "prted", *args)

    data = report(result)
    assert data["args"] == unwrapped(args)
    assert HNP_URI in data["args"]  # the ';' inside the quoted URI did not split the command
    assert Path(data["argv0"]).name == "prted"


def test_prrte_prefix_preamble_sets_prefixes_and_ignores_library_path(agent: Agent, tmp_path: Path) -> None:
    # With a prefix (prterun run by absolute path, or --prefix), PRRTE exports PRTE_PREFIX and
    # PMIX_PREFIX, prepends to [DY]LD_LIBRARY_PATH and runs PREFIX/bin/prted; plm_ssh_chdir adds `cd`.
    prefix, pmix_prefix, workdir = tmp_path, tmp_path / "pmix", tmp_path / "work"
    workdir.mkdir()
    preamble = [
        f"cd {workdir}",
        f"PRTE_PREFIX={prefix}",
        "export PRTE_PREFIX",
        f"PMIX_PREFIX={pmix_prefix}",
        "export PMIX_PREFIX",
        f"LD_LIBRARY_PATH={prefix}/lib:{pmix_prefix}/lib:$LD_LIBRARY_PATH",
        "export LD_LIBRARY_PATH",
        f"DYLD_LIBRARY_PATH={prefix}/lib:{pmix_prefix}/lib:$DYLD_LIBRARY_PATH",
        "export DYLD_LIBRARY_PATH",
        f"{prefix}/bin/prted",
    ]
    args = prted_args()

    result = agent.launch("127.0.0.1", ";".join(preamble), *args)

    data = report(result)
    assert data["args"] == unwrapped(args)
    assert data["cwd"] == str(workdir)
    assert data["env"]["PRTE_PREFIX"] == str(prefix)
    assert data["env"]["PMIX_PREFIX"] == str(pmix_prefix)
    assert data["env"]["LD_LIBRARY_PATH"] is None  # the agent's (unset here), not the request's
    assert "ignored=LD_LIBRARY_PATH,DYLD_LIBRARY_PATH" in agent.log()


def test_command_seen_from_debian_trixie_prterun(agent: Agent, tmp_path: Path) -> None:
    # Captured from Debian trixie's prterun (PRRTE 3.0.x in openmpi-bin 5.0.7) launching two REC
    # node pods; only the prefix differs (/usr there). Note the unquoted vpid: PRRTE fills it in
    # after quoting the other values.
    prefix = str(tmp_path)
    uri = "prterun-t1-login-11@0.0;tcp://10.89.0.10:56149:24"
    frameworks = "errmgr,ess,filem,grpcomm,iof,odls,oob,plm,prtebacktrace,prtedl,prteinstalldirs"
    command = (
        f"PRTE_PREFIX={prefix};export PRTE_PREFIX;"
        f"LD_LIBRARY_PATH={prefix}/lib:/usr/lib/x86_64-linux-gnu/pmix2/lib:$LD_LIBRARY_PATH;"
        "export LD_LIBRARY_PATH;"
        f"DYLD_LIBRARY_PATH={prefix}/lib:/usr/lib/x86_64-linux-gnu/pmix2/lib:$DYLD_LIBRARY_PATH;"
        f"export DYLD_LIBRARY_PATH;{prefix}/bin/prted"
    )
    args = [
        *("--prtemca", "ess", '"env"', "--prtemca", "ess_base_nspace", '"prterun-t1-login-11@0"'),
        *("--prtemca", "ess_base_vpid", "1", "--prtemca", "ess_base_num_procs", '"3"'),
        *("--prtemca", "prte_hnp_uri", f'"{uri}"', "--prtemca", "plm_ssh_agent", '"recapp-launch"'),
        *("--prtemca", "PREFIXES", f'"{frameworks}"', "--prtemca", "pmix_session_server", '"1"'),
        *("--prtemca", "plm", '"ssh"', "--tree-spawn", "--prtemca", "prte_parent_uri", f'"{uri}"'),
    ]

    result = agent.launch("127.0.0.1", command, *args)

    data = report(result)
    assert data["argv0"] == f"{prefix}/bin/prted"
    assert data["args"] == unwrapped(args)
    assert data["env"]["PRTE_PREFIX"] == prefix


def test_prrte_sh_login_shell_wrapper_is_unwrapped(agent: Agent) -> None:
    # For a sh/ksh login shell PRRTE wraps everything in `( test ! -r ./.profile || . ./.profile; ... )`.
    prelude = ["(", "test", "!", "-r", "./.profile", "||", ".", "./.profile;"]
    args = prted_args()

    result = agent.launch("127.0.0.1", *prelude, "prted", *args, ")")

    assert report(result)["args"] == unwrapped(args)


def test_prrte_5_command_with_port_after_host_and_key_on_stdin(agent: Agent) -> None:
    # Newer PRRTE: `AGENT [plm_ssh_args] HOST -p PORT "cmd" --daemonize ... prte_dvm_key_stdin "1"`.
    args = ["--daemonize", *prted_args("--prtemca", "prte_dvm_key_stdin", '"1"')]

    result = agent.launch(
        "-x",
        "-o",
        "BatchMode=yes",
        "-T",
        "rec@127.0.0.1",
        "-p",
        "2222",
        "prted",
        *args,
        stdin=b"k" * 64 + b"\n",
    )

    data = report(result)
    assert data["args"] == unwrapped(args)
    assert data["stdin"] == "k" * 64 + "\n"


def test_remote_shell_probe_is_answered_without_a_shell(agent: Agent) -> None:
    # plm_ssh_assume_same_shell=0 makes PRRTE run `AGENT HOST "echo $SHELL"` first.
    result = agent.launch("127.0.0.1", "echo $SHELL")

    assert result.returncode == 0
    assert result.stdout == b"/bin/bash\n"
    assert agent.runs() == []


def test_allowed_program_given_by_absolute_path(
    start_agent: Callable[..., Agent], write_program: Callable[[Path, str], Path], tmp_path: Path
) -> None:
    tool = write_program(tmp_path / "tools" / "hello", "print('hello from tool')\n")
    agent = start_agent(allow=(str(tool),))

    by_path = agent.launch("127.0.0.1", str(tool))
    by_name = agent.launch("127.0.0.1", "hello")

    assert (by_path.returncode, by_path.stdout) == (0, b"hello from tool\n")
    assert (by_name.returncode, by_name.stdout) == (0, b"hello from tool\n")


def test_accepted_and_refused_requests_are_logged_one_line_each(agent: Agent) -> None:
    agent.launch("127.0.0.1", "prted")
    agent.launch("127.0.0.1", "bash", "-c", "id")

    lines = agent.log().splitlines()
    accepted = [line for line in lines if "decision=accepted" in line]
    refused = [line for line in lines if "decision=refused" in line]
    assert len(accepted) == 1 and 'argv0="prted"' in accepted[0] and "peer=127.0.0.1:" in accepted[0]
    assert len(refused) == 1 and 'argv0="bash"' in refused[0] and "not allowed" in refused[0]


def test_unreachable_agent_is_reported_with_host_and_port(agent: Agent) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]  # bound but not listening: connections are refused

        result = agent.launch("127.0.0.1", "prted", RECAPP_AGENT_PORT=str(closed_port))

    assert result.returncode == 255
    assert result.stderr.decode().startswith(
        f"recapp-launch: cannot reach launch agent on 127.0.0.1:{closed_port}: "
    )


def test_missing_secret_file_is_reported(agent: Agent, tmp_path: Path) -> None:
    result = agent.launch("127.0.0.1", "prted", secret_file=tmp_path / "no-such-secret")

    assert result.returncode == 255
    assert "cannot read the launch agent secret" in result.stderr.decode()
    assert agent.runs() == []


def test_missing_command_is_a_usage_error(agent: Agent) -> None:
    result = agent.launch("-x", "127.0.0.1")

    assert result.returncode == 255
    assert "no command given for 127.0.0.1" in result.stderr.decode()
