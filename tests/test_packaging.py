"""The installable package: pyproject.toml lists what exists, and a wheel installed into a fresh venv gives
working ``bptt-dashboard``, ``bptt-diagnose`` and ``bptt-export`` commands."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
from pathlib import Path

import pytest

from dashboard.shell import launch

ROOT = Path(__file__).parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def test_the_package_list_is_every_package_folder():
    """A new subpackage (a folder with an __init__.py) must be added to pyproject.toml, or the wheel lacks it."""
    folders = {
        ".".join(p.parent.relative_to(ROOT).parts)
        for top in ("bptt_core", "dashboard")
        for p in (ROOT / top).rglob("__init__.py")
    }
    assert set(SETUPTOOLS["packages"]) == folders | {"bptt_app"}
    assert SETUPTOOLS["package-dir"] == {"bptt_app": "."}  # app.py and pages/ stay at the root
    data = SETUPTOOLS["package-data"]
    assert list((ROOT / "bptt_core").glob(data["bptt_core"][0])) == [ROOT / "bptt_core" / "data" / "alice.txt"]
    assert sorted((ROOT).glob(data["bptt_app"][0])) == sorted((ROOT / "pages").glob("*.py"))


def test_dependencies_are_read_from_requirements_txt():
    assert "dependencies" in PYPROJECT["project"]["dynamic"] and "dependencies" not in PYPROJECT["project"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}


def test_every_console_command_names_a_function_that_exists():
    scripts = PYPROJECT["project"]["scripts"]
    assert set(scripts) == {"bptt-dashboard", "bptt-diagnose", "bptt-export"}
    for target in scripts.values():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), target


def test_the_launcher_finds_the_checkouts_router_and_says_when_it_is_missing(monkeypatch, capsys):
    assert launch.app_path() == ROOT / "app.py"
    monkeypatch.setattr(launch, "ROUTER", "no_such_router.py")
    assert launch.main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no_such_router.py with pages/ beside it not found") and err.count("\n") == 1


def test_the_launcher_serves_without_a_file_watcher_unless_told_otherwise():
    """Like the checkout's .streamlit/config.toml, which a served copy reads and an installed one may not."""
    assert launch.served(["--server.port", "8600"]) == [
        "--server.port", "8600", "--server.fileWatcherType", "none", "--runner.postScriptGC", "false",
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    mine = ["--server.fileWatcherType=auto", "--runner.postScriptGC", "true", "--browser.gatherUsageStats", "true"]
    assert launch.served(mine) == mine


def test_the_checkouts_streamlit_config_serves_without_a_file_watcher():
    import tomllib

    from streamlit import config as st_config

    served = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert served["server"]["fileWatcherType"] == "none" and served["server"]["runOnSave"] is False
    assert served["runner"]["postScriptGC"] is False
    for option, value in launch.SERVED.items():  # the installed command serves the same way
        section, name = option.removeprefix("--").split(".")
        assert str(served[section][name]).lower() == value
    for section, options in served.items():  # every option one Streamlit knows (an unknown one raises)
        for name in options:
            st_config.get_option(f"{section}.{name}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(command: list, cwd: Path, **kw) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what the venv installed
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    """The wheel built from a copy of the project, installed into a fresh venv.

    The venv is created with ``--system-site-packages``: the heavy dependencies already installed here
    (NumPy, Streamlit, Plotly, ...) are reused, so nothing is downloaded (``--no-build-isolation`` builds with
    the setuptools installed here, ``--no-index`` installs without an index, checking the dependencies
    read from requirements.txt against what is installed).
    """
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"  # building in place would leave build/ and *.egg-info in the checkout
    skip = shutil.ignore_patterns(
        ".git", "artifacts", "tests", "bench", "build", "*.egg-info", ".*cache", "__pycache__"
    )
    shutil.copytree(ROOT, source, ignore=skip)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp, source], tmp)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = tmp.glob("bptt_dashboard-*.whl")
    env = tmp / "venv"
    assert _run([sys.executable, "-m", "venv", "--system-site-packages", env], tmp).returncode == 0
    installed = _run([env / "bin" / "python", "-m", "pip", "install", "--no-index", wheel], tmp)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return env


@pytest.mark.slow
def test_the_venv_runs_the_installed_copy(venv):
    out = _run([venv / "bin" / "python", "-c", "import bptt_app, dashboard; print(dashboard.__file__)"], venv.parent)
    assert out.returncode == 0 and Path(out.stdout.strip()).is_relative_to(venv), out.stdout + out.stderr
    show = "import importlib.metadata as m, json; print(json.dumps(m.requires('bptt-dashboard')))"
    requires = json.loads(_run([venv / "bin" / "python", "-c", show], venv.parent).stdout)
    listed = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    assert requires == [r for r in listed if r]


@pytest.mark.slow
def test_bptt_diagnose_and_bptt_export_work(venv, tmp_path):
    bin_ = venv / "bin"
    helped = _run([bin_ / "bptt-diagnose", "--help"], tmp_path)
    assert helped.returncode == 0 and "--inputs" in helped.stdout
    (tmp_path / "bad.npz").write_bytes(b"not a weight file")
    refused = _run([bin_ / "bptt-diagnose", tmp_path / "bad.npz", "--inputs", tmp_path / "bad.npz"], tmp_path)
    assert refused.returncode == 2 and refused.stderr.startswith("error:") and refused.stderr.count("\n") == 1
    helped = _run([bin_ / "bptt-export", "--help"], tmp_path)
    assert helped.returncode == 0 and "--config" in helped.stdout
    (tmp_path / "config.json").write_text(json.dumps({"T": 5, "hidden_size": 3}))
    exported = _run([bin_ / "bptt-export", "--config", "config.json", "--out", "out", "--no-static"], tmp_path)
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "out" / "reference.py").read_text() == (ROOT / "bptt_core" / "reference.py").read_text()
    assert (tmp_path / "out" / "unroll_code.html").stat().st_size > 10_000


@pytest.mark.slow
def test_bptt_dashboard_serves_the_app(venv, tmp_path):
    """Started on a free port with Streamlit's options passed through; healthy, its script (the router and
    the default page) runs without error; stopped, nothing is left running."""
    port = _free_port()
    command = [venv / "bin" / "bptt-dashboard", "--server.port", str(port), "--server.headless", "true"]
    command += ["--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"]
    command += ["--server.scriptHealthCheckEnabled", "true"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/_stcore"
        assert _answer(f"{url}/health", proc) == "ok"
        assert _answer(f"{url}/script-health-check", proc) == "ok"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode is not None


def _answer(url: str, proc: subprocess.Popen, timeout: float = 120) -> str:
    """The body at ``url`` once the server answers (polled until then; the server must stay up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read().decode()
        try:
            with urllib.request.urlopen(url, timeout=60) as reply:
                return reply.read().decode()
        except OSError:
            time.sleep(0.2)  # the poll's interval: the state waited for is the server's answer
    raise AssertionError(f"no answer from {url} within {timeout} s")
