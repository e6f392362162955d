"""The rendered book and JupyterLab in a real browser: Playwright driving Debian's Chromium.

Every request to a host other than 127.0.0.1 (or a file: URL) is aborted and remembered; the
site must make none, JupyterLab must fetch no script from outside. Screenshots go to
``$TRTLAB_SCREENSHOTS`` or ``build/test-screenshots/`` (printed by the session fixture).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from trtlab import book, site
from trtlab.recorder import read_records
from conftest import stop

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
CHAPTERS = ("00_environment", "01_introduction")  # the two chapters the browser tests render


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.geteuid() != 0:
        pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium) and installing it needs root: "
                    "sudo apt-get install chromium")
    pytest.fail("/usr/bin/chromium is missing: run `make chromium` (apt-get install chromium) first")


@pytest.fixture(scope="session")
def screenshots() -> Path:
    path = Path(os.environ.get("TRTLAB_SCREENSHOTS", ROOT / "build" / "test-screenshots"))
    path.mkdir(parents=True, exist_ok=True)
    for old in path.glob("*.png"):  # only this run's pictures
        old.unlink()
    print(f"\nbrowser screenshots: {path}")
    return path


@pytest.fixture(scope="module")  # closed after this file: its event loop must not outlive it
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class Blocked(list):
    """(resource type, URL) of every request that tried to leave the machine."""


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    blocked = Blocked()

    def route(r):
        url = r.request.url
        if url.startswith(("file:", "data:", "blob:", "http://127.0.0.1", "ws://127.0.0.1")):
            r.continue_()
        else:
            blocked.append((r.request.resource_type, url))
            r.abort()

    ctx.route("**/*", route)
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    pg.blocked = blocked  # type: ignore[attr-defined]
    yield pg
    ctx.close()


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """`trtlab book --only 00,01` into a tmp folder, through the real command line."""
    _need_chromium()
    for name in CHAPTERS:
        if not (book.NOTEBOOKS / f"{name}.ipynb").exists():
            pytest.fail(f"notebooks/{name}.ipynb is missing")
    out = tmp_path_factory.mktemp("book")
    env = {**os.environ, "TRTLAB_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "trtlab.cli", "book", "--only", ",".join(c[:2] for c in CHAPTERS),
                           "--out", str(out), "--artifacts", str(out / "artifacts")],
                          capture_output=True, text=True, env=env, timeout=300)
    print(f"\ntrtlab book --only 00,01: {time.perf_counter() - start:.1f} s -> {out / 'html'}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _executed_records(built_book: Path, name: str) -> dict:
    import nbformat

    return read_records(nbformat.read(built_book / "notebooks" / f"{name}.ipynb", as_version=4))


def _no_errors(pg) -> None:
    text = pg.inner_text("body")
    assert "Traceback (most recent call last)" not in text
    stderr = pg.locator('[data-mime-type="application/vnd.jupyter.stderr"]').all_inner_texts()
    assert not [s for s in stderr if "Error" in s], stderr


def test_index_lists_the_chapters(built_book, page, screenshots):
    page.goto((built_book / "html" / "index.html").as_uri())
    rows = page.locator("tr.chapter")
    names = [rows.nth(i).get_attribute("data-name") for i in range(rows.count())]
    assert names == sorted(names) and set(CHAPTERS) <= set(names)  # every chapter the book saw, in order
    for name in CHAPTERS:
        row = page.locator(f'tr.chapter[data-name="{name}"]')
        assert row.locator("a.chapter-title").inner_text() == site.title_of(book.NOTEBOOKS / f"{name}.ipynb")
        assert row.locator("td.status").inner_text() == "executed"
        assert row.locator("td.time").inner_text().endswith(" s")
        assert row.locator(".summary").inner_text().strip()
    assert "tensorrt" in page.locator("footer").inner_text()
    page.screenshot(path=str(screenshots / "site-index.png"), full_page=True)
    assert page.blocked == []


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_page(built_book, page, screenshots, name):
    page.goto((built_book / "html" / "index.html").as_uri())
    page.locator(f'tr.chapter[data-name="{name}"] a.chapter-title').click()
    page.wait_for_load_state("load")
    title = site.title_of(book.NOTEBOOKS / f"{name}.ipynb")
    assert page.locator("h1").first.inner_text().strip().rstrip("¶").strip() == title
    _no_errors(page)
    # every value the notebook recorded is on the page
    records = _executed_records(built_book, name)
    assert records, f"{name} recorded nothing"
    shown = {el.get_attribute("data-record"): el.inner_text() for el in page.locator(".trtlab-record").all()}
    for key, value in records.items():
        assert key in shown, f"record {key} not shown"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert str(value) in shown[key]
    # images: all loaded from the page itself (base64), none broken
    sizes = page.eval_on_selector_all(".jp-OutputArea-output img",
                                      "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
    assert all(ok and w > 0 and h > 0 for ok, w, h in sizes), sizes
    footer = page.locator("footer.trtlab-footer").inner_text()
    assert "Executed with" in footer and "UTC" in footer
    assert page.locator("nav.top a.trtlab-index").get_attribute("href") == "index.html"
    page.screenshot(path=str(screenshots / f"site-{name}.png"), full_page=False)
    assert page.blocked == []


def test_a_chapter_has_a_plot_and_navigation_works(built_book, page):
    page.goto((built_book / "html" / f"{CHAPTERS[0]}.html").as_uri())
    page.locator("nav.top a.trtlab-next").click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"{CHAPTERS[1]}.html")
    loaded = page.eval_on_selector_all(".jp-OutputArea-output img",
                                       "els => els.filter(e => e.complete && e.naturalWidth > 0).length")
    assert loaded >= 1, "no plot image loaded on chapter 01"
    page.locator("nav.top a.trtlab-prev").click()
    assert page.url.endswith(f"{CHAPTERS[0]}.html")
    assert page.blocked == []


def test_widget_static_fallback_in_the_browser(page, tmp_path, screenshots):
    """A synthetic chapter with an ipywidget: the note and the widget cell's plot, and no script at all."""
    from test_site import PROV, synthetic_notebook

    path = synthetic_notebook(tmp_path / "notebooks" / "04_widgets.ipynb", "04 · Widgets", widget=True)
    c = site.chapter_from_source(path)
    c.executed, c.provenance, c.status, c.seconds = str(path), PROV, "executed", 1.0
    site.write_site([c], tmp_path / "html", PROV)
    page.goto((tmp_path / "html" / "04_widgets.html").as_uri())
    assert page.locator(".trtlab-widget-note").inner_text().startswith("Interactive widget")
    assert page.eval_on_selector_all("img", "els => els.filter(e => e.naturalWidth > 0).length") >= 2
    assert page.locator("script[src]").count() == 0
    assert page.blocked == []


# --- JupyterLab -------------------------------------------------------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _api(base: str, token: str, path: str):
    req = urllib.request.Request(f"{base}{path}", headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())


@pytest.fixture
def jupyterlab(tmp_path):
    _need_chromium()
    root = tmp_path / "notebooks"
    root.mkdir()
    shutil.copy(book.NOTEBOOKS / f"{CHAPTERS[0]}.ipynb", root)
    port, token = _free_port(), "trtlab-test-token"
    cmd = site.lab_command(port, open_browser=False, root_dir=root, token=token) + [
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    env = {**os.environ, "TRTLAB_OFFLINE": "1", "TRTLAB_ARTIFACTS": str(tmp_path / "artifacts"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces")}
    # every cell in the DOM (no windowing), and no "Jupyter news?" toast over the page
    settings = tmp_path / "lab-settings" / "@jupyterlab"
    for ext, name, value in (("notebook-extension", "tracker", {"windowingMode": "none"}),
                             ("apputils-extension", "notification", {"fetchNews": "false"})):
        (settings / ext).mkdir(parents=True, exist_ok=True)
        (settings / ext / f"{name}.jupyterlab-settings").write_text(json.dumps(value))
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                _api(base, token, "/api/status")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(tmp_path / 'jupyterlab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield base, token, root
    finally:
        stop(proc)
        log.close()


def _kernel_state(base: str, token: str) -> str | None:
    sessions = _api(base, token, "/api/sessions")
    if not sessions:
        return None
    return _api(base, token, f"/api/kernels/{sessions[0]['kernel']['id']}")["execution_state"]


def _wait(page, predicate, timeout: float, what: str, interval_ms: int = 500):
    """Poll ``predicate``; sleeping through Playwright so it keeps serving the page's routed requests."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(interval_ms)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def test_jupyterlab_runs_notebook_00(jupyterlab, page, screenshots, built_book):
    base, token, root = jupyterlab
    try:
        _run_all_in_lab(base, token, root, page, screenshots, built_book)
    except BaseException:
        page.screenshot(path=str(screenshots / "jupyterlab-failure.png"))
        print(f"JupyterLab log: {(root.parent / 'jupyterlab.log').read_text()[-3000:]}")
        raise


def _run_all_in_lab(base, token, root, page, screenshots, built_book):
    page.goto(f"{base}/lab/tree/{CHAPTERS[0]}.ipynb?token={token}")
    page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=60_000)
    _wait(page, lambda: _kernel_state(base, token) == "idle", 60, "the kernel to start")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    source = json.loads((root / f"{CHAPTERS[0]}.ipynb").read_text())
    n_code = sum(c["cell_type"] == "code" for c in source["cells"])

    def done() -> bool:  # a fresh kernel numbers the cells 1..n_code
        prompts = page.locator(".jp-NotebookPanel .jp-CodeCell .jp-InputPrompt").all_inner_texts()
        return any(p.strip() == f"[{n_code}]:" for p in prompts) and _kernel_state(base, token) == "idle"

    _wait(page, done, 90, "every cell of notebook 00 to run and the kernel to be idle")
    outputs = "\n".join(page.locator(".jp-NotebookPanel .jp-OutputArea-output").all_inner_texts())
    backend = _executed_records(built_book, CHAPTERS[0])["backend"]
    assert f"[record] backend = '{backend}'" in outputs, outputs[-3000:]
    assert "Traceback (most recent call last)" not in outputs
    page.screenshot(path=str(screenshots / "jupyterlab-00.png"))
    scripts = [u for kind, u in page.blocked if kind == "script"]
    assert scripts == [], scripts
