"""The labelling widget in a real browser: JupyterLab from the venv, headless Chromium, clicks and shortcut keys,
the labels file."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import numpy as np
import pytest
from PIL import Image

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1400,1000")
TOKEN = "dlcourse-browser-test"
STARTUP_S, WIDGET_S = 120, 180
# The status of the kernel of the notebook open in JupyterLab's main area (window.jupyterapp is exposed by the
# server option below); null until the notebook and its kernel are there.
KERNEL_STATUS = """
const app = window.jupyterapp;
if (!app) { return null; }
const panel = Array.from(app.shell.widgets("main")).find(w => w.sessionContext);
const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
return kernel ? kernel.status : null;
"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()),
                       reason="needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_workspace(folder: Path) -> Path:
    """Four photos and a notebook whose one cell shows label_folder's widget on them; returns the notebook."""
    photos = folder / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(photos / f"photo{i}.png")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from dlcourse.labelling import label_folder\nlabel_folder('photos', page_size=4)")])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / "label.ipynb"
    nbformat.write(notebook, path)
    return path


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server (this venv's) on a free port, serving tmp_path; yields its base URL."""
    port = free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"), JUPYTER_DATA_DIR=str(tmp_path / "data"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"))
    env.pop("DLCOURSE_INTERACTIVE", None)
    log = open(tmp_path / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--IdentityProvider.token={TOKEN}", "--ServerApp.disable_check_xsrf=True",
         "--LabApp.expose_app_in_browser=True", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
         f"--ServerApp.root_dir={tmp_path}", *(["--allow-root"] if os.geteuid() == 0 else [])], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_S
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"JupyterLab did not start:\n{(tmp_path / 'jupyterlab.log').read_text()[-3000:]}")
            time.sleep(0.5)
    yield url
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
    log.close()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def click_when_ready(driver, css: str, timeout: float):
    """Click the first element matching css once it is shown and enabled."""
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    element = WebDriverWait(driver, timeout).until(ec.element_to_be_clickable(("css selector", css)))
    element.click()


def test_clicks_in_jupyterlab_land_in_the_labels_file(tmp_path, jupyterlab, browser):
    from selenium.webdriver.support.ui import WebDriverWait

    write_workspace(tmp_path)
    browser.get(f"{jupyterlab}/lab/tree/label.ipynb?token={TOKEN}")
    WebDriverWait(browser, STARTUP_S).until(lambda d: d.execute_script(KERNEL_STATUS) == "idle")
    browser.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells');")
    click_when_ready(browser, ".dlcourse-label-good", WIDGET_S)
    labels_file = tmp_path / "photos" / "labels.jsonl"
    expected = {"photo0.png": "good"}
    for css, item, label in ((".dlcourse-label-bad", "photo1.png", "bad"), (".dlcourse-label-skip", "photo2.png", "skip")):
        card = browser.find_elements("css selector", ".dlcourse-card")[int(item[5])]
        card.find_element("css selector", css).click()
        expected[item] = label
        WebDriverWait(browser, 30).until(lambda _: labels_of(labels_file) == expected)
    click_when_ready(browser, ".dlcourse-undo", 30)
    del expected["photo2.png"]
    WebDriverWait(browser, 30).until(lambda _: labels_of(labels_file) == expected)
    WebDriverWait(browser, 30).until(lambda d: "2 / 4 labelled (0 skipped)" in
                                     d.find_element("css selector", ".dlcourse-status").text)
    # The shortcut box: one click to focus it, then keys label the outlined image (photo2, then photo3); u undoes.
    box = browser.find_element("css selector", ".dlcourse-keys input")
    box.click()
    for key, change in (("g", {"photo2.png": "good"}), ("b", {"photo3.png": "bad"}), ("u", {"photo3.png": None})):
        box.send_keys(key)
        expected = {item: label for item, label in {**expected, **change}.items() if label is not None}
        WebDriverWait(browser, 30).until(lambda _: labels_of(labels_file) == expected)
        WebDriverWait(browser, 30).until(lambda _: box.get_attribute("value") == "")  # the box cleared itself
    WebDriverWait(browser, 30).until(lambda d: "3 / 4 labelled (0 skipped)" in
                                     d.find_element("css selector", ".dlcourse-status").text)


def labels_of(path: Path) -> dict:
    """The current labels of a labels file (last record per item wins; null clears), {} before it exists."""
    if not path.exists():
        return {}
    current = {}
    for line in path.read_text().splitlines()[1:]:
        record = json.loads(line)
        if record["label"] is None:
            current.pop(record["item"], None)
        else:
            current[record["item"]] = record["label"]
    return current

