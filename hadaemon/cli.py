"""Command line: keepalived-compatible flags plus hadaemon's subcommands.

``hadaemon [options]`` runs the daemon; ``hadaemon SUBCOMMAND ...`` runs a tool:
``config dump``, ``status``, ``genhash``, ``lab``. Each subcommand lives in its own module and is
imported lazily so that ``hadaemon -t`` stays fast and needs nothing from the kernel.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import socket
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hadaemon import __version__

if TYPE_CHECKING:
    from hadaemon.config.errors import Diagnostic
    from hadaemon.config.model import Config

DEFAULT_CONFIGS = ("/etc/hadaemon/hadaemon.conf", "/etc/keepalived/keepalived.conf")

#: subcommand -> "module:function"; the function takes ``argv`` and returns an exit code
SUBCOMMANDS = {
    "config": "hadaemon.config.cli:main",
    "status": "hadaemon.supervisor.status_cli:main",
    "genhash": "hadaemon.checkers.genhash:main",
    "lab": "hadaemon.lab.main:main",
}


def default_config_id() -> str:
    """keepalived's default config-id: the host name up to the first dot."""
    return socket.gethostname().split(".", 1)[0]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hadaemon",
        description="VRRP + health-checked load balancer; reads keepalived.conf.",
        epilog="subcommands: hadaemon config dump [--json] | status [--json] | genhash | lab",
    )
    p.add_argument(
        "-f",
        "--use-file",
        metavar="FILE",
        help=f"configuration file (default {DEFAULT_CONFIGS[0]}, else {DEFAULT_CONFIGS[1]})",
    )
    p.add_argument(
        "-t",
        "--config-test",
        nargs="?",
        const="",
        default=None,
        metavar="FILE",
        help="check the configuration and exit (0 ok, 3 cannot run, 4 errors, "
        "5 scripts without enable_script_security)",
    )
    p.add_argument(
        "-n",
        "--dont-fork",
        "--foreground",
        dest="foreground",
        action="store_true",
        help="stay in the foreground",
    )
    p.add_argument(
        "-D", "--debug", "--log-detail", dest="debug", action="store_true", help="detailed logging"
    )
    p.add_argument("-l", "--log-console", action="store_true", help="log to the console")
    p.add_argument(
        "-i",
        "--config-id",
        default=None,
        help="config id for @id conditionals (default: host name up to the first dot)",
    )
    p.add_argument("-P", "--vrrp", action="store_true", help="run only the VRRP subsystem")
    p.add_argument("-C", "--check", action="store_true", help="run only the checker/LVS subsystem")
    p.add_argument(
        "-B",
        "--no_bfd",
        "--no-bfd",
        dest="no_bfd",
        action="store_true",
        help="do not run the BFD subsystem",
    )
    p.add_argument("-p", "--pid", metavar="FILE", help="supervisor pid file")
    p.add_argument(
        "--run-dir",
        default=None,
        help="directory for pid files, status socket and dump files (default /run/hadaemon, "
        "or /run/hadaemon/NAME with net_namespace NAME)",
    )
    p.add_argument("--no-bpf", action="store_true", help="use the classic-BPF receive path")
    p.add_argument("--dump-bpf", action="store_true", help="print the eBPF program and exit")
    p.add_argument("--signum", metavar="NAME", help="print the number of signal NAME and exit")
    p.add_argument("--version", action="version", version=f"hadaemon {__version__}")
    return p


def resolve_config_path(path: str | None) -> str:
    import os

    if path:
        return path
    for cand in DEFAULT_CONFIGS:
        if os.path.exists(cand):
            return cand
    return DEFAULT_CONFIGS[0]


def signum(name: str) -> int | None:
    """keepalived's --signum: RELOAD, STOP, DATA, STATS, JSON, or any SIGxxx name."""
    aliases = {"RELOAD": "SIGHUP", "STOP": "SIGTERM", "DATA": "SIGUSR1", "STATS": "SIGUSR2"}
    n = name.upper()
    if n in ("JSON", "STATS_CLEAR"):
        return int(signal.SIGRTMIN) + (2 if n == "JSON" else 3)
    n = aliases.get(n, n)
    if not n.startswith("SIG"):
        n = "SIG" + n
    try:
        return int(signal.Signals[n])
    except KeyError:
        return None


def lvs_diagnostics(config: Config) -> list[Diagnostic]:
    """What the load-balancer data path cannot do with ``config``, as config diagnostics."""
    from hadaemon.config.errors import Diagnostic as Diag
    from hadaemon.lvs.service import check_config

    return [Diag(p.severity, p.message, p.location) for p in check_config(config)]


def script_security_diagnostics(config: Config) -> list[Diagnostic]:
    """With ``enable_script_security``: every existing script the daemon will refuse because a
    non-root user could modify or replace it, as a config error at the script's line (keepalived
    2.2.7's ``-t`` reports "Disabling track script … due to insecure" as a config error too).
    A script runs as its ``user``, else ``script_user``, else root (the daemon's user)."""
    import grp
    import pwd

    from hadaemon.config.errors import Diagnostic as Diag
    from hadaemon.config.errors import Severity
    from hadaemon.config.validate import script_exists
    from hadaemon.io.scripts import script_refusal

    gd = config.global_defs
    if not gd.enable_script_security:
        return []
    block_user = {
        id(v.script): (v.user, v.group) for v in config.vrrp_scripts if v.script is not None
    }
    out: list[Diagnostic] = []
    for s in config.scripts():
        if not s.args or not script_exists(s):
            continue  # a missing script is disabled, as keepalived (not a security matter)
        b_user, b_group = block_user.get(id(s), (None, None))
        user = s.user or b_user or gd.script_user
        group = s.group or b_group or (None if s.user or b_user else gd.script_group)
        try:
            pw = pwd.getpwnam(user) if user else None
            uid = pw.pw_uid if pw else 0
            gid = grp.getgrnam(group).gr_gid if group else (pw.pw_gid if pw else 0)
        except KeyError:
            continue  # an unknown user is reported where the script is run
        why = script_refusal(list(s.args), enable_script_security=True, uid=uid, gid=gid)
        if why and why.startswith(("insecure", "wrong file type")):
            out.append(
                Diag(
                    Severity.ERROR,
                    f"script {s.args[0]} will not run (enable_script_security): {why}",
                    s.location,
                    "only root may be able to change the script and every directory above it",
                )
            )
    return out


def enter_config_namespace(path: str, config_id: str | None) -> str | None:
    """For ``-t``: enter the ``net_namespace`` that ``path`` names, so that its interfaces are
    checked where the daemon would run (this process is short-lived and single-threaded).
    Returns the error to print when the namespace cannot be entered, else None."""
    from hadaemon.supervisor.namespace import configured_namespace

    netns, where = configured_namespace(path, config_id)
    if not netns:
        return None
    from hadaemon.io.netns import NetnsError, enter

    try:
        enter(netns)
    except NetnsError as exc:
        return f"{where}: error: {exc}\n{path}: configuration cannot be checked"
    return None


def _run_subcommand(name: str, argv: list[str]) -> int:
    mod_name, func_name = SUBCOMMANDS[name].split(":")
    mod = importlib.import_module(mod_name)
    return int(getattr(mod, func_name)(argv) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] in SUBCOMMANDS:
        return _run_subcommand(args_list[0], args_list[1:])
    args = build_parser().parse_args(args_list)
    if args.signum is not None:
        n = signum(args.signum)
        if n is None:
            print(f"hadaemon: unknown signal name {args.signum!r}", file=sys.stderr)
            return 1
        print(n)
        return 0
    config_id = args.config_id or default_config_id()
    if args.config_test is not None:
        from hadaemon.config.check import config_test

        path = resolve_config_path(args.config_test or args.use_file)
        failed = enter_config_namespace(path, config_id)
        if failed is not None:
            print(failed, file=sys.stderr)
            return 3  # cannot run (hadaemon.config.check.EXIT_CANNOT_RUN)
        return config_test(
            path,
            config_id=config_id,
            extra_checks=[lvs_diagnostics, script_security_diagnostics],
        )
    if args.dump_bpf:
        from hadaemon.io.bpf import dump_source

        print(dump_source())
        return 0
    from hadaemon.supervisor.main import run

    args.use_file = resolve_config_path(args.use_file)
    args.config_id = config_id
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
