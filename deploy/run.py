"""Start N dashboard replicas behind nginx with one command; stop them all on Ctrl-C or SIGTERM.

    python -m deploy --replicas 2 --port 8500        # http://127.0.0.1:8500, two replicas behind nginx
    python -m deploy --replicas 0 --port 80 --upstream 10.0.0.2:8501 --upstream 10.0.0.3:8501   # a cluster
    python -m deploy --print-config --upstream 10.0.0.2:8501 --upstream 10.0.0.3:8501           # for your nginx

Each replica is ``streamlit run app.py`` on a loopback port with its own pool of worker processes
(``--workers`` each, default: the cores shared out among the replicas). nginx (Debian's ``/usr/sbin/nginx``,
or ``NGINX``) runs in the foreground with the config of ``deploy/nginx.conf``, written with its pid, logs
and temporary files to a directory of its own, so it runs without root; started as root, its workers run
as ``nobody``. Everything this command starts ends with it, also when it is killed (Linux: the children
are told when their parent dies).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from dashboard.shell import launch

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf")
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
TEMP_DIRS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
START_TIMEOUT = 120.0  # seconds a replica or nginx may take to answer its first health check


def nginx_config(upstreams: list[str], listen: str, folder: Path, *, as_root: bool = False) -> str:
    """``deploy/nginx.conf`` for these replicas (``host:port`` each), listening on ``listen``, its files in
    ``folder``; started as root, nginx's workers run as ``nobody``."""
    if not upstreams:
        raise ValueError("upstreams must name at least one replica (host:port)")
    servers = "\n".join(f"        server {u} max_fails=3 fail_timeout=10s;" for u in upstreams)
    return (
        TEMPLATE.read_text()
        .replace("{{USER}}", "user nobody nogroup;" if as_root else "")
        .replace("{{DIR}}", str(folder))
        .replace("{{SERVERS}}", servers)
        .replace("{{LISTEN}}", listen)
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In a child before it runs: receive SIGTERM when the process that started it dies (Linux)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _healthy(url: str, deadline: float, proc: subprocess.Popen, what: str) -> None:
    """Wait for ``url`` to answer ``ok`` (polling), or fail when ``proc`` ends or the deadline passes."""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} ended (exit code {proc.returncode}) before it answered")
        try:
            if urllib.request.urlopen(url, timeout=2).read().strip() == b"ok":
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not answer {url} within {START_TIMEOUT:.0f} s")


def start_replica(port: int, workers: int, env: dict | None = None) -> subprocess.Popen:
    """``streamlit run app.py`` on 127.0.0.1:``port`` with ``workers`` worker processes, served as
    :data:`dashboard.shell.launch.SERVED` says (no file watcher, no full garbage collection after every run)."""
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true"]
    command += launch.served(["--server.port", str(port), "--server.address", "127.0.0.1"])
    return subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "BPTT_WORKERS": str(workers), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,  # its banner names its own port: the address to open is nginx's, printed
        preexec_fn=_die_with_parent,
    )


def start_nginx(config: str, folder: Path) -> subprocess.Popen:
    """nginx in the foreground with ``config`` (checked first: a bad one fails with nginx's message)."""
    conf = folder / "nginx.conf"
    conf.write_text(config)
    for name in TEMP_DIRS:
        (folder / name).mkdir(exist_ok=True)
    if os.geteuid() == 0:  # its workers run as nobody: let them reach and write their temporary files
        folder.chmod(0o755)
        for name in TEMP_DIRS:
            shutil.chown(folder / name, "nobody", "nogroup")
    base = [NGINX, "-p", str(folder), "-c", str(conf), "-e", str(folder / "error.log")]
    check = subprocess.run([*base, "-t", "-q"], capture_output=True, text=True)
    if check.returncode:
        raise RuntimeError(f"nginx refused the configuration: {check.stderr.strip()}")
    return subprocess.Popen([*base, "-g", "daemon off;"], stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)


def stop(procs: list[subprocess.Popen], timeout: float = 30.0) -> None:
    """SIGTERM every process (a replica closes its sessions and workers), SIGKILL those still there after
    ``timeout`` seconds; wait for all."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


class Deployment:
    """Replicas (local, or ``upstreams`` elsewhere) behind nginx on ``host:port``; a context manager."""

    def __init__(self, replicas: int, port: int, *, host: str = "127.0.0.1", workers: int | None = None,
                 upstreams: tuple[str, ...] = (), env: dict | None = None) -> None:  # fmt: skip
        if replicas < 0 or (replicas == 0 and not upstreams):
            raise ValueError("replicas must be at least 1, or 0 with --upstream replicas elsewhere")
        self.replicas, self.port, self.host, self.upstreams, self.env = replicas, port, host, list(upstreams), env
        self.workers = workers if workers is not None else max(1, (os.cpu_count() or 1) // max(replicas, 1))
        self.procs: list[subprocess.Popen] = []
        self.folder: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '') else self.host}:{self.port}"

    def __enter__(self) -> Deployment:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def start(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        ports = [free_port() for _ in range(self.replicas)]
        replicas = [start_replica(p, self.workers, self.env) for p in ports]
        self.procs += replicas
        for port, proc in zip(ports, replicas):
            _healthy(f"http://127.0.0.1:{port}/_stcore/health", deadline, proc, f"the replica on port {port}")
        self.folder = Path(tempfile.mkdtemp(prefix="bptt-nginx-"))
        upstreams = [f"127.0.0.1:{p}" for p in ports] + self.upstreams
        config = nginx_config(upstreams, f"{self.host}:{self.port}", self.folder, as_root=os.geteuid() == 0)
        self.procs.append(nginx := start_nginx(config, self.folder))
        _healthy(f"{self.url}/_stcore/health", deadline, nginx, "nginx")

    def close(self) -> None:
        stop(self.procs[::-1])  # nginx first: no new requests reach a replica that is stopping
        self.procs.clear()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2, help="local replicas to start (default 2)")
    parser.add_argument("--port", type=int, default=8500, help="the port nginx listens on (default 8500)")
    parser.add_argument("--host", default="127.0.0.1", help="the address nginx listens on (0.0.0.0: every one)")
    parser.add_argument("--workers", type=int, help="worker processes per replica (default: cores / replicas)")
    parser.add_argument("--upstream", action="append", default=[], metavar="HOST:PORT", help="a replica elsewhere")
    parser.add_argument("--timing", metavar="PATH", help="replicas time each script run into it (BPTT_TIMING)")
    parser.add_argument("--print-config", action="store_true", help="print the nginx config for --upstream and exit")
    parser.add_argument(
        "--dir", default="/var/lib/bptt-nginx", help="with --print-config: nginx's pid, logs, temp files"
    )
    args = parser.parse_args(argv)
    if args.print_config:
        if not args.upstream:
            parser.error("--print-config needs the replicas: --upstream HOST:PORT (once each)")
        print(nginx_config(args.upstream, f"{args.host}:{args.port}", Path(args.dir)))
        return 0
    if not Path(NGINX).exists():
        print(f"deploy: {NGINX} not found (apt-get install nginx, or set NGINX)", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # SIGTERM stops everything as Ctrl-C does
    try:
        env = {"BPTT_TIMING": str(Path(args.timing).resolve())} if args.timing else None
        options = {"host": args.host, "workers": args.workers, "upstreams": args.upstream, "env": env}
        with Deployment(args.replicas, args.port, **options) as d:
            print(f"{d.url}  ({args.replicas} replicas x {d.workers} workers, nginx files in {d.folder})", flush=True)
            while all(p.poll() is None for p in d.procs):
                time.sleep(1.0)
            print("deploy: a replica or nginx ended; stopping the rest", file=sys.stderr)
            return 1
    except (RuntimeError, ValueError) as err:
        print(f"deploy: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
