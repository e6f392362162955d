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
CHAPTERS = ("00_environment", "01_introduction", "07_migrating_legacy_code")  # the chapters the browser tests render


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
    """`trtlab book --only 00,01,07` into a tmp folder, through the real command line (both languages)."""
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
    print(f"\ntrtlab book --only {','.join(c[:2] for c in CHAPTERS)}: {time.perf_counter() - start:.1f} s -> {out / 'html'}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _executed_records(built_book: Path, name: str) -> dict:
    import nbformat

    return read_records(nbformat.read(built_book / "notebooks" / f"{name}.ipynb", as_version=4))


def _no_errors(pg) -> None:
    text = pg.inner_text("body")
    assert "Traceback (most recent call last)" not in text
    stderr = pg.locator(".cell_output .output.stderr").all_inner_texts()  # MyST-NB's classes
    assert not [s for s in stderr if "Error" in s], stderr
    assert pg.locator(".cell_output .output.traceback").count() == 0


LANGS = ("en", "zh_TW")
MACHINE_PATHS = re.compile(r"(?<![\w.])/(?:tmp|home|root|work|mnt|Users)/")


def _url(built_book: Path, lang: str, page_name: str) -> str:
    html = built_book / "html" if lang == "en" else built_book / "html" / lang
    return (html / page_name).as_uri()


def _no_machine_paths(pg, built_book: Path) -> None:
    content = pg.content()
    assert str(built_book) not in content and str(ROOT) not in content
    assert not MACHINE_PATHS.findall(pg.inner_text("body")), MACHINE_PATHS.findall(pg.inner_text("body"))


@pytest.mark.parametrize("lang", LANGS)
def test_index_lists_the_chapters(built_book, page, screenshots, lang):
    page.goto(_url(built_book, lang, "index.html"))
    article = page.locator("article")
    links = [a.get_attribute("href") for a in article.locator("dl a.reference.internal").all()]
    assert links == [f"{c}.html" for c in CHAPTERS]  # the chapters that ran, in order
    summaries = [dd.inner_text().strip() for dd in article.locator("dl dd").all()]
    assert len(summaries) == len(book.notebooks(None)) and all(len(s) > 20 for s in summaries)  # every chapter
    sidebar = [a.get_attribute("href") for a in page.locator("nav.bd-docs-nav a.reference.internal").all()]
    assert [h for h in sidebar if h.rstrip(".html")[:2].isdigit()] == [f"{c}.html" for c in CHAPTERS]
    assert "status.html" in sidebar
    tip = page.locator(f'nav.bd-docs-nav a[href="{CHAPTERS[0]}.html"]').get_attribute("title")
    assert tip and tip.strip() == summaries[0]  # the summary is the sidebar entry's tooltip too
    other = page.locator("nav.trtlab-lang a.trtlab-lang-link")
    assert other.get_attribute("href") == ("zh_TW/index.html" if lang == "en" else "../index.html")
    if lang == "zh_TW":
        assert page.locator("html").get_attribute("lang") == "zh-TW"
        assert "章節" in article.inner_text()
    _no_machine_paths(page, built_book)
    page.screenshot(path=str(screenshots / f"site-{lang}-index.png"), full_page=True)
    assert page.blocked == []


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_page(built_book, page, screenshots, name, lang):
    page.goto(_url(built_book, lang, "index.html"))
    page.locator(f'article dl a[href="{name}.html"]').click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"{name}.html") and (lang == "en") != ("/zh_TW/" in page.url)
    title = page.locator("article h1").first.inner_text().strip().rstrip("#¶").strip()
    if lang == "en":
        assert title == site.title_of(book.NOTEBOOKS / f"{name}.ipynb")
    _no_errors(page)
    body = page.inner_text("article")
    assert "[record]" not in body  # recorded values are for the tests, not for readers
    assert _executed_records(built_book, name), f"{name} recorded nothing"
    # images: all loaded from disk, none broken
    sizes = page.eval_on_selector_all("article img", "els => els.map(e => [e.complete, e.naturalWidth, e.naturalHeight])")
    assert all(ok and w > 0 and h > 0 for ok, w, h in sizes), sizes
    footer = page.locator("footer.trtlab-footer").inner_text()
    assert "tensorrt" in footer.lower() and "UTC" in footer
    for cls in ("ipynb", "py", "html"):
        href = page.locator(f"a.trtlab-dl-{cls}").get_attribute("href")
        assert (Path(page.url[len("file://"):]).parent / href).resolve().stat().st_size > 100
    assert "trtlab lab" in page.locator(".trtlab-lab-hint").inner_text()
    assert page.locator("button.copybtn").count() >= 1  # sphinx-copybutton on code cells
    assert page.locator(".bd-sidebar-secondary nav.page-toc li.toc-entry a").count() >= 1  # in-page contents
    _no_machine_paths(page, built_book)
    page.screenshot(path=str(screenshots / f"site-{lang}-{name}.png"), full_page=False)
    assert page.blocked == []


def test_plots_fold_and_load(built_book, page):
    page.goto(_url(built_book, "en", f"{CHAPTERS[1]}.html"))
    loaded = page.eval_on_selector_all("article img", "els => els.filter(e => e.complete && e.naturalWidth > 0).length")
    assert loaded >= 1, "no plot image loaded on chapter 01"
    folded = page.locator(".cell.tag_hide-input details")
    if folded.count():  # plotting code is folded, and opens on click
        assert not folded.first.evaluate("d => d.open")
        folded.first.locator("summary").click()
        assert folded.first.evaluate("d => d.open")
    assert page.blocked == []


def _search(page, url: str) -> set[str]:
    """The pages a finished search lists (Sphinx adds results one by one, then writes its summary)."""
    page.goto(url)
    title = page.locator("#search-results h2")  # "Searching…" until the last result is in
    _wait(page, lambda: title.count() > 0 and title.inner_text().strip() in ("Search Results", "搜尋結果"), 60,
          f"the search {url}")
    return {(a.get_attribute("href") or "").split("?")[0].split("#")[0]
            for a in page.locator("#search-results ul.search li a").all()}


@pytest.mark.parametrize("lang", LANGS)
def test_search_finds_chapters(built_book, page, screenshots, lang):
    hrefs = _search(page, _url(built_book, lang, "search.html") + "?q=TensorRT")
    assert {f"{c}.html" for c in CHAPTERS} <= hrefs, hrefs
    page.screenshot(path=str(screenshots / f"site-{lang}-search.png"))
    if lang == "zh_TW":  # Chinese words too (jieba splits them when the index is built)
        assert "index.html" in _search(page, _url(built_book, lang, "search.html") + "?q=引擎")
    assert page.blocked == []


def test_previous_next_and_language_switch(built_book, page):
    page.goto(_url(built_book, "en", f"{CHAPTERS[0]}.html"))
    page.locator("a.right-next").click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/html/{CHAPTERS[1]}.html")
    page.locator("a.left-prev").click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/html/{CHAPTERS[0]}.html")
    page.locator("nav.trtlab-lang a.trtlab-lang-link").click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/html/zh_TW/{CHAPTERS[0]}.html")
    assert "下載" in page.locator(".trtlab-chapter-bar").inner_text()
    page.locator("a.right-next").click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/html/zh_TW/{CHAPTERS[1]}.html")
    page.locator("nav.trtlab-lang a.trtlab-lang-link").click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"/html/{CHAPTERS[1]}.html")
    page.goto(_url(built_book, "zh_TW", "status.html"))
    assert "已執行" in page.locator("table.trtlab-status").inner_text()
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
