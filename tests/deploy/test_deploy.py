"""Replicas behind nginx (``python -m deploy``): a valid config, sticky sessions, the class spread over the
replicas, every session its own, and nothing left running after it stops."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.wsclient import Student
from deploy.run import NGINX, free_port, nginx_config
from tests.processes import alive, descendants, until

ROOT = Path(__file__).parents[2]
MISSING = not Path(NGINX).exists()
if MISSING and os.environ.get("REQUIRE_NGINX"):
    raise RuntimeError(f"REQUIRE_NGINX is set but {NGINX} is missing (apt-get install nginx)")
needs_nginx = pytest.mark.skipif(MISSING, reason=f"{NGINX} not found (apt-get install nginx)")


@needs_nginx
@pytest.mark.parametrize("as_root", [False, True])
def test_the_config_passes_nginx_own_check(tmp_path, as_root):
    config = nginx_config(["127.0.0.1:8501", "10.0.0.2:8501"], "127.0.0.1:8500", tmp_path, as_root=as_root)
    assert "hash $bptt_replica consistent" in config and "server 10.0.0.2:8501" in config
    assert "{{" not in config.split("\n", 10)[-1]  # every field filled in (the comment at the top names them)
    (tmp_path / "nginx.conf").write_text(config)
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (tmp_path / name).mkdir()
    if as_root and os.geteuid() != 0:
        pytest.skip("the root variant (workers as nobody) is checked when the tests run as root")
    base = [NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e", str(tmp_path / "error.log")]
    check = subprocess.run([*base, "-t"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_a_config_without_replicas_is_refused(tmp_path):
    with pytest.raises(ValueError, match="upstreams must name at least one replica"):
        nginx_config([], "127.0.0.1:8500", tmp_path)


async def _class(url: str, n: int) -> list[tuple[Student, str, str]]:
    """``n`` students at once: each loads the page, sets its own Hidden H; each one's replicas and settings."""

    async def student(k: int):
        async with Student(url, "gradient_flow") as s:
            opened = await s.open()
            changed = await s.set_int("Hidden H", 20 + k)
            assert opened.exceptions == changed.exceptions == 0 and changed.charts == 4
            return s, changed.query, s.replicas

    return await asyncio.gather(*[student(k) for k in range(n)])


async def _again(url: str, cookies: str) -> tuple[str, str]:
    """A student coming back (a reload: a new websocket) with its cookies: the replicas it reaches."""
    async with Student(url, "gradient_flow", cookies=cookies) as s:
        assert (await s.open()).exceptions == 0
        return s.replicas


@needs_nginx
@pytest.mark.slow
def test_two_replicas_behind_nginx_keep_each_student_on_one_and_share_the_class():
    port = free_port()
    deploy = subprocess.Popen(
        [sys.executable, "-m", "deploy", "--replicas", "2", "--port", str(port), "--workers", "1"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = deploy.stdout.readline()  # printed once nginx and both replicas answer (or the command ends)
        assert line.startswith(f"http://127.0.0.1:{port}"), f"deploy did not start (exit code {deploy.poll()})"
        folder = Path(re.search(r"nginx files in (\S+)\)", line).group(1))
        url = f"http://127.0.0.1:{port}"
        seen = asyncio.run(_class(url, 6))
        for k, (student, query, (page, websocket)) in enumerate(seen):
            assert query == f"hidden_size={20 + k}"  # its own session: no other student's setting
            assert page == websocket != ""  # the page and its websocket reached the same replica
            assert asyncio.run(_again(url, student.cookies)) == (page, page)  # and it comes back there
        assert len({page for _, _, (page, _) in seen}) == 2  # the class is spread over both replicas
        started = descendants(deploy.pid)
        assert len(started) >= 2 + 2 + 2  # two replicas, a worker each, nginx's master and workers
    finally:
        deploy.send_signal(signal.SIGTERM)  # as Ctrl-C: everything it started stops
        code = deploy.wait(120)
        deploy.stdout.close()
    assert code == 0
    until(lambda: not any(alive(p) for p in started), "every replica, worker and nginx process ended")
    assert not folder.exists()  # nginx's config, pid and logs removed
