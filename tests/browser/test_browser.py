"""Every page of the built book in headless Chromium.

Per page: no severe console message (failed resources included: the browser has no
internet, so a page that needs a CDN fails here), every ``<img>`` loaded, MathJax rendered
every formula (``mjx-container``, no ``mjx-merror``), and every internal link of the sidebar
answers 200. The chapter named by ``GOLDILOCKS_SCREENSHOT`` (default: the first notebook of
the toc) is saved to ``_build/screenshots/`` for a human look.

Run: ``make browser`` or ``.venv/bin/python -m pytest tests/browser -q``.
"""
from __future__ import annotations

import os
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from goldilocks_core.book import toc_files

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"

TOC_PAGES = toc_files(ROOT)
NOTEBOOKS = [doc for doc in TOC_PAGES if (ROOT / f"{doc}.ipynb").is_file()]
SCREENSHOT_PAGE = os.environ.get("GOLDILOCKS_SCREENSHOT") or (NOTEBOOKS[0] if NOTEBOOKS else TOC_PAGES[0])

_PAGE_STATE = """
const done = arguments[arguments.length - 1];
const report = () => done({
  math: document.querySelectorAll('span.math, div.math').length,
  rendered: document.querySelectorAll('mjx-container').length,
  errors: [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error') || e.textContent).slice(0, 5),
  mathjax: typeof window.MathJax === 'object' && !!window.MathJax.startup,
  mathjax_src: [...document.scripts].map(s => s.src).filter(s => /mathjax/i.test(s)),
  broken_images: [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src')),
  images: document.images.length,
  sidebar: [...document.querySelectorAll('nav.bd-docs-nav a.reference.internal')].map(a => a.href),
});
if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
  window.MathJax.startup.promise.then(report, report);
} else { report(); }
"""


def _wait_loaded(driver, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while driver.execute_script("return document.readyState") != "complete":
        if time.monotonic() > end:
            raise AssertionError("page did not finish loading")
        time.sleep(0.05)


def visit(driver, url: str) -> dict:
    """Load ``url``; wait for MathJax and the images; return the page's state and console."""
    driver.get_log("browser")  # drop what earlier pages left
    driver.get(url)
    _wait_loaded(driver)
    driver.set_script_timeout(30)
    state = driver.execute_async_script(_PAGE_STATE)
    end = time.monotonic() + 10
    while state["broken_images"] and time.monotonic() < end:  # late images get a moment
        time.sleep(0.2)
        state = driver.execute_async_script(_PAGE_STATE)
    state["console"] = [entry for entry in driver.get_log("browser") if entry.get("level") == "SEVERE"]
    return state


def check(state: dict, page: str) -> None:
    problems = []
    if state["console"]:
        problems += [f"console: {entry['message']}" for entry in state["console"]]
    if state["broken_images"]:
        problems.append(f"{len(state['broken_images'])} of {state['images']} images did not load: "
                        f"{state['broken_images'][:3]}")
    if state["math"]:
        if not state["mathjax"]:
            problems.append(f"{state['math']} formulas but MathJax did not load (scripts: {state['mathjax_src']})")
        elif state["rendered"] < state["math"]:
            problems.append(f"MathJax rendered {state['rendered']} of {state['math']} formulas")
        if state["errors"]:
            problems.append(f"MathJax errors: {state['errors']}")
    assert not problems, f"{page}:\n  " + "\n  ".join(problems)


def check_links(urls: list[str], base: str) -> list[str]:
    """The internal (same-server) URLs among ``urls`` that do not answer 200."""
    bad = []
    for url in sorted({u.split("#")[0] for u in urls if u.startswith(base)}):
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                if response.status != 200:
                    bad.append(f"{url}: HTTP {response.status}")
        except urllib.error.URLError as err:
            bad.append(f"{url}: {err}")
    return bad


def page_url(server: str, doc: str) -> str:
    return urllib.parse.urljoin(server, f"{doc}.html")


@pytest.mark.parametrize("doc", TOC_PAGES)
def test_toc_page(doc, driver, server, screenshots):
    assert (HTML / f"{doc}.html").is_file(), f"{doc}.html was not built"
    state = visit(driver, page_url(server, doc))
    check(state, doc)
    assert state["sidebar"], f"{doc}: no table of contents in the sidebar"
    bad = check_links(state["sidebar"], server)
    assert not bad, f"{doc}: sidebar links that do not resolve:\n  " + "\n  ".join(bad)
    if doc == SCREENSHOT_PAGE:
        name = doc.replace("/", "_")
        driver.save_screenshot(str(screenshots / f"{name}.png"))  # the first screen, as a reader sees it
        height = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 6000)")
        driver.set_window_size(1280, height)
        try:
            driver.save_screenshot(str(screenshots / f"{name}_full.png"))
        finally:
            driver.set_window_size(1280, 900)


def test_root_redirect(driver, server):
    """``index.html`` leads to the first page of the toc."""
    driver.get(server)
    _wait_loaded(driver)
    end = time.monotonic() + 10
    while not driver.current_url.endswith(f"{TOC_PAGES[0]}.html") and time.monotonic() < end:
        time.sleep(0.1)
    assert driver.current_url.endswith(f"{TOC_PAGES[0]}.html"), driver.current_url


def test_api_pages(driver, server):
    """The pages the sidebar adds to the toc's (the generated API reference)."""
    state = visit(driver, page_url(server, TOC_PAGES[0]))
    known = {page_url(server, doc) for doc in TOC_PAGES}
    extra = sorted({url.split("#")[0] for url in state["sidebar"]} - known)
    if not extra:
        pytest.skip("the sidebar lists no page beyond the toc's")
    failures = []
    for url in extra:
        try:
            check(visit(driver, url), url.removeprefix(server))
        except AssertionError as err:
            failures.append(str(err))
    assert not failures, f"{len(failures)} of {len(extra)} pages:\n" + "\n".join(failures)
