"""Fixtures of the browser test: a built book, a local HTTP server, headless Chromium.

The test runs only when asked for (``make browser``, ``pytest tests/browser`` or
``GOLDILOCKS_BROWSER=1``), not as part of ``pytest tests`` (``make unit``).

Without Chromium, chromedriver or Selenium it is skipped with the reason, except where a
browser is required (``CI=true`` or ``GOLDILOCKS_REQUIRE_BROWSER=1``): there it fails.
Selenium Manager never downloads anything: the driver is given by path.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
LOCAL_MATHJAX = ROOT / "book" / "_static" / "mathjax" / "tex-mml-chtml.js"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--no-default-browser-check", "--disable-quic", "--disable-extensions",
    "--disable-default-apps", "--hide-scrollbars", "--force-device-scale-factor=1",
    "--window-size=1280,900",
)


def _here_explicitly(config) -> bool:
    """True when the command line names tests/browser (or a file or test inside it)."""
    here = Path(__file__).resolve().parent
    for arg in config.args:
        path = Path(str(arg).split("::")[0]).resolve()
        if path == here or here in path.parents:
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    if os.environ.get("GOLDILOCKS_BROWSER") == "1" or _here_explicitly(config):
        return None
    return True  # `pytest tests` (make unit): the browser test has its own make target


def browser_required() -> bool:
    flag = lambda name: os.environ.get(name, "").strip().lower() in ("1", "true", "yes")  # noqa: E731
    return flag("CI") or flag("GOLDILOCKS_REQUIRE_BROWSER")


def unavailable(reason: str):
    """Skip on a developer machine; fail where a browser is required (CI)."""
    if browser_required():
        pytest.fail(f"{reason} (required here: CI/GOLDILOCKS_REQUIRE_BROWSER is set)", pytrace=False)
    pytest.skip(reason)


# -- the built book ---------------------------------------------------------------------------

def _source_files() -> list[Path]:
    """What the HTML is built from: config, toc, the toc's documents, the book's extensions,
    templates and static files (not the fetched MathJax), the bibliography, the package."""
    from goldilocks_core.book import toc_files

    files = [ROOT / "_config.yml", ROOT / "_toc.yml", *sorted((ROOT / "book").glob("*.bib"))]
    for doc in toc_files(ROOT):
        files += [p for p in (ROOT / f"{doc}{suffix}" for suffix in (".md", ".ipynb", ".rst")) if p.is_file()]
    for folder in ("_ext", "_templates", "_static"):
        files += [p for p in (ROOT / "book" / folder).rglob("*")
                  if p.is_file() and "mathjax" not in p.parts and "__pycache__" not in p.parts]
    files += [p for p in (ROOT / "goldilocks_core").rglob("*.py") if "__pycache__" not in p.parts]
    return files


def stale_reason() -> str | None:
    """Why ``_build/html`` must be (re)built, or ``None`` when it is up to date."""
    marker = HTML / ".buildinfo"
    if not marker.is_file():
        return "no build in _build/html"
    built = marker.stat().st_mtime
    newer = [p for p in _source_files() if p.stat().st_mtime > built]
    if newer:
        return f"{len(newer)} source file(s) changed since the last build, e.g. {newer[0].relative_to(ROOT)}"
    want_local = LOCAL_MATHJAX.is_file() and os.environ.get("GOLDILOCKS_MATHJAX", "").lower() != "cdn"
    if want_local:
        for page in HTML.rglob("*.html"):
            text = page.read_text(encoding="utf-8", errors="replace")
            if "mathjax" in text and re.search(r'src="https?://[^"]*mathjax', text):
                return f"{page.relative_to(HTML)} loads MathJax from the CDN but a local copy exists"
    return None


@pytest.fixture(scope="session")
def built_book() -> Path:
    """``_build/html``, built from the committed notebooks when missing or stale."""
    reason = stale_reason()
    if reason:
        print(f"\nbuilding the book ({reason})", flush=True)
        cmd = [sys.executable, "-c", "from jupyter_book.cli.main import main; main()",
               "build", str(ROOT), "-W", "-n", "--keep-going"]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0 or not (HTML / ".buildinfo").is_file():
            tail = "\n".join((done.stdout + done.stderr).splitlines()[-40:])
            pytest.fail(f"jupyter-book build failed (exit {done.returncode}):\n{tail}", pytrace=False)
    return HTML


# -- a local server ---------------------------------------------------------------------------

class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A page left before it finished loading closes its connections: not an error of the book."""
        if not isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipe, ConnectionReset, …
            super().handle_error(request, client_address)


@pytest.fixture(scope="session")
def server(built_book):
    """``http://127.0.0.1:<ephemeral port>/`` serving ``_build/html``."""
    handler = functools.partial(_QuietHandler, directory=str(built_book))
    httpd = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


# -- headless Chromium --------------------------------------------------------------------------

def find_browser() -> tuple[str, str]:
    """(chromium, chromedriver) executables, or skip/fail saying which is missing."""
    chromium = os.environ.get("GOLDILOCKS_CHROMIUM") or next(
        (found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)
    driver = os.environ.get("GOLDILOCKS_CHROMEDRIVER") or shutil.which("chromedriver")
    if driver is None and Path("/usr/bin/chromedriver").is_file():
        driver = "/usr/bin/chromedriver"
    missing = [what for what, path in (("chromium", chromium), ("chromedriver", driver))
               if not path or not os.access(path, os.X_OK)]
    if missing:
        unavailable(f"{' and '.join(missing)} not found (Debian: apt-get install chromium chromium-driver)")
    return chromium, driver


@pytest.fixture(scope="session")
def driver(tmp_path_factory):
    chromium, chromedriver = find_browser()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[test]')")
    # Selenium Manager must not fetch drivers or browsers, nor report statistics.
    os.environ.setdefault("SE_OFFLINE", "true")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        browser = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    except Exception as err:  # noqa: BLE001 - report why the browser did not start
        unavailable(f"headless Chromium did not start: {str(err).splitlines()[0]}")
    browser.set_page_load_timeout(60)
    started = time.perf_counter()
    yield browser
    browser.quit()
    print(f"\nbrowser session: {time.perf_counter() - started:.1f} s", flush=True)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
