"""``bptt-dashboard``: ``streamlit run app.py`` for an installed package, options passed through.

``app.py`` and ``pages/`` stay at the project's root, where ``streamlit run app.py`` finds them in a
checkout; ``pyproject.toml`` installs that folder's router and pages as the package ``bptt_app``
(``package-dir``), so an installed copy carries them. This finds the router (the installed one, or the
checkout's when the project is not installed) and hands the rest of the command line to Streamlit::

    bptt-dashboard --server.port 8600 --server.headless true
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

#: The router the command runs, in its folder (with ``pages/`` beside it).
ROUTER = "app.py"
#: Options of a served dashboard (what the checkout's ``.streamlit/config.toml`` sets, which an installed copy
#: run from another folder does not read), unless the command line gives its own.
SERVED = {"--server.fileWatcherType": "none", "--runner.postScriptGC": "false", "--browser.gatherUsageStats": "false"}


def app_path() -> Path:
    """The router: ``bptt_app/app.py`` where the package is installed, else the checkout's ``app.py``.

    Raises
    ------
    FileNotFoundError
        When neither exists (a broken install), naming where it looked.
    """
    spec = importlib.util.find_spec("bptt_app")
    folders = [Path(f) for f in (spec.submodule_search_locations or [])] if spec is not None else []
    folders.append(Path(__file__).resolve().parents[2])  # a checkout: dashboard/shell/launch.py -> root
    for folder in folders:
        if (folder / ROUTER).is_file() and (folder / "pages").is_dir():
            return folder / ROUTER
    raise FileNotFoundError(f"{ROUTER} with pages/ beside it not found in {', '.join(map(str, folders))}")


def main(argv: list[str] | None = None) -> int:
    """Run the dashboard with Streamlit; ``argv`` (default: the command line) are ``streamlit run`` options."""
    from streamlit.web import cli

    try:
        router = app_path()
    except FileNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    sys.argv = ["streamlit", "run", str(router), *served(sys.argv[1:] if argv is None else argv)]
    return cli.main()


def served(argv: list[str]) -> list[str]:
    """``argv`` with the options of :data:`SERVED` it does not set (``--name value`` or ``--name=value``)."""
    given = {arg.split("=", 1)[0] for arg in argv if arg.startswith("--")}
    return [*argv, *(part for name, value in SERVED.items() if name not in given for part in (name, value))]
