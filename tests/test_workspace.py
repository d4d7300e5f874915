"""Set-up's Jupyter configuration and git filter: students' Lab without nbgrader's instructor tools, the
instructors' route to the Formgrader page (JupyterLab started from grading/), and notebooks that git stores
without outputs after a run in JupyterLab."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbclient
import nbformat
import pytest

from dlcourse import paths
from dlcourse.notebooks import read_notebook
from dlcourse.workspace import INSTRUCTOR_LAB_PLUGINS, install_git_filter, write_jupyter_config

TOKEN = "dlcourse-test"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, ""


@pytest.fixture
def start_server(tmp_path):
    """Start `jupyter lab` (headless) from grading/ with extra configuration folders; yields a URL getter."""
    servers = []

    def start(*config_dirs: Path):
        port = _free_port()
        env = {**os.environ, "JUPYTER_CONFIG_PATH": os.pathsep.join(map(str, config_dirs)),
               "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
             f"--IdentityProvider.token={TOKEN}", "--allow-root"],
            cwd=paths.grading_dir(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        servers.append(server)
        base = f"http://127.0.0.1:{port}"
        for _ in range(240):
            if server.poll() is not None:
                pytest.fail(f"jupyter lab exited: {server.stderr.read().decode()[-2000:]}")
            try:
                if _get(f"{base}/api/status")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.25)
        return lambda page: _get(f"{base}/{page}")

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=30)


def _disabled_plugins(page: str) -> set[str]:
    """The plugins a JupyterLab page leaves out: its page config's disabledExtensions set to true."""
    config = json.loads(re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                                  page, re.S).group(1))
    disabled = config.get("disabledExtensions", {})
    return {name for name, off in disabled.items() if off} if isinstance(disabled, dict) else set(disabled)


def _configured(tmp_path: Path, name: str, instructor: bool) -> Path:
    folder = tmp_path / name
    write_jupyter_config(folder, instructor=instructor)
    return folder


def test_students_lab_has_no_instructor_tools(start_server, tmp_path):
    get = start_server(_configured(tmp_path, "students", instructor=False))
    assert get("formgrader")[0] == 404
    status, page = get("lab")
    assert status == 200
    assert set(INSTRUCTOR_LAB_PLUGINS) <= _disabled_plugins(page)
    assert "@jupyter/nbgrader:assignment-list" not in _disabled_plugins(page)


def test_instructors_route_reaches_the_formgrader_page(start_server, tmp_path):
    students = _configured(tmp_path, "students", instructor=False)
    get = start_server(_configured(tmp_path, "instructor", instructor=True), students)
    status, page = get("formgrader")
    assert status == 200 and "Manage Assignments" in page
    assert not set(INSTRUCTOR_LAB_PLUGINS) & _disabled_plugins(get("lab")[1])


def test_the_configuration_keeps_other_settings(tmp_path):
    (tmp_path / "labconfig").mkdir()
    (tmp_path / "labconfig" / "page_config.json").write_text('{"disabledExtensions": {"other:plugin": true}}')
    write_jupyter_config(tmp_path, instructor=False)
    text = (tmp_path / "labconfig" / "page_config.json").read_text()
    assert '"other:plugin": true' in text and '"@jupyter/nbgrader:formgrader": true' in text


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                          capture_output=True, text=True, check=True).stdout


@pytest.mark.notebooks
def test_a_lecture_run_in_jupyterlab_leaves_git_clean(tmp_path):
    repo = tmp_path / "course"
    (repo / "course").mkdir(parents=True)
    lecture = repo / "course" / "00_setup.ipynb"
    shutil.copy(paths.course_dir() / "00_setup.ipynb", lecture)
    _git(repo, "init", "-q")
    assert install_git_filter(repo)
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "lecture")
    # Run it and save it as JupyterLab does: outputs, execution counts, the kernel's language_info.
    nb = read_notebook(lecture)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(lecture.parent)}}).execute()
    nbformat.write(nb, lecture)
    assert '"output_type"' in lecture.read_text()
    assert _git(repo, "diff", "--no-textconv") == ""  # git sees no change of what it stores ...
    _git(repo, "add", "--all")
    assert _git(repo, "status", "--porcelain") == ""  # ... so there is nothing to commit


def test_no_filter_outside_a_git_checkout(tmp_path):
    assert install_git_filter(tmp_path) is False
