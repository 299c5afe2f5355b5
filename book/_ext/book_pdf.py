"""``make pdf``: the whole book as one PDF, printed by headless Chromium from the HTML build.

The first page of the toc is opened from a local server; the article of every other toc page
(in toc order, chapters and back matter; the generated API pages are left out) is fetched and
appended to it as a new printed page; MathJax typesets the appended math, the images load,
display equations are fitted to the printed column (``goldilocks.js``, under print media), and Chrome's
``Page.printToPDF`` (DevTools, through Selenium) prints the result: A4, page numbers in the
footer, the print styles of ``goldilocks.css``. Nothing is downloaded: the browser is the
Chromium and chromedriver of the browser test (``tests/browser``), and no PDF library is
needed since Chromium prints one document.

Usage: ``python book/_ext/book_pdf.py [--html _build/html] [--out _build/html/goldilocks-book.pdf]``
"""
from __future__ import annotations

import argparse
import base64
import functools
import http.server
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PDF_NAME = "goldilocks-book.pdf"
PRINT_WIDTH_PX = 680  # the text column of A4 with 15 mm margins (7.07 in at 96 px): equations are fitted to it
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
         "--force-device-scale-factor=1")

_ASSEMBLE = """
const [pages, title] = [arguments[0], arguments[1]];
const done = arguments[arguments.length - 1];
(async () => {
  const article = document.querySelector('article.bd-article');
  for (const page of pages) {
    const html = await (await fetch(page)).text();
    const doc = new DOMParser().parseFromString(html, 'text/html');
    const other = doc.querySelector('article.bd-article');
    if (!other) continue;
    const section = document.createElement('section');
    section.className = 'gl-print-page';
    section.innerHTML = other.innerHTML;
    article.appendChild(section);
  }
  document.title = title;
  if (window.MathJax && MathJax.typesetPromise) await MathJax.typesetPromise();
  await Promise.all([...document.images].map(img => img.complete ? null :
      new Promise(ok => { img.onload = img.onerror = ok; })));
  return {
    images: document.images.length,
    broken: [...document.images].filter(i => !i.naturalWidth).map(i => i.getAttribute('src')),
    math: document.querySelectorAll('span.math, div.math').length,
    rendered: document.querySelectorAll('mjx-container').length,
    errors: document.querySelectorAll('mjx-merror').length,
  };
})().then(done, err => done({error: String(err)}));
"""

_FOOTER = ('<div style="font-size:8px;width:100%;text-align:center;color:#666">'
           '<span class="pageNumber"></span> / <span class="totalPages"></span></div>')


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = os.environ.get("GOLDILOCKS_CHROMIUM") or next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))), None)
    driver = os.environ.get("GOLDILOCKS_CHROMEDRIVER") or shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not chromium or not Path(driver).is_file():
        raise RuntimeError("book_pdf: needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not download anything
    os.environ.setdefault("SE_AVOID_STATS", "true")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={PRINT_WIDTH_PX},1000")
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='goldilocks-pdf-')}")
    return webdriver.Chrome(service=Service(executable_path=driver), options=options)


def page_count(pdf: bytes) -> int:
    """Pages of a PDF written by Chromium (its page tree's ``/Count``)."""
    counts = [int(c) for c in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf)]
    counts += [int(c) for c in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf)]
    return max(counts) if counts else len(re.findall(rb"/Type\s*/Page\b", pdf))


def print_book(html: Path, out: Path) -> tuple[int, float]:
    """Print the toc pages of the HTML build ``html`` into ``out``; return (pages, seconds)."""
    sys.path.insert(0, str(ROOT))
    from goldilocks_core.book import toc_files

    import yaml

    started = time.perf_counter()
    docs = [d for d in toc_files(ROOT) if (html / f"{d}.html").is_file()]
    if not docs:
        raise RuntimeError(f"book_pdf: no built pages in {html} (run the HTML build first)")
    title = (yaml.safe_load((ROOT / "_config.yml").read_text()) or {}).get("title", "The book")
    handler = functools.partial(_QuietHandler, directory=str(html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    driver = _browser()
    try:
        driver.set_page_load_timeout(120)
        driver.set_script_timeout(600)
        driver.get(base + f"{docs[0]}.html")
        while driver.execute_script("return document.readyState") != "complete":
            time.sleep(0.05)
        driver.execute_async_script(
            "const d = arguments[0]; (window.MathJax && MathJax.startup) ? MathJax.startup.promise.then(d, d) : d();")
        others = [base + f"{d}.html" for d in docs[1:]]
        state = driver.execute_async_script(_ASSEMBLE, others, title)
        if state.get("error") or state["broken"] or state["errors"] or state["rendered"] < state["math"]:
            raise RuntimeError(f"book_pdf: the assembled book is incomplete: {state}")
        # lay the page out as it will print, then fit the display equations to that column
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
        driver.execute_script("if (window.goldilocksFitEquations) window.goldilocksFitEquations();")
        result = driver.execute_cdp_cmd("Page.printToPDF", {
            "printBackground": True, "paperWidth": 8.27, "paperHeight": 11.69,  # A4
            "marginTop": 0.6, "marginBottom": 0.6, "marginLeft": 0.6, "marginRight": 0.6,
            "displayHeaderFooter": True, "headerTemplate": "<span></span>", "footerTemplate": _FOOTER,
            "preferCSSPageSize": False,
        })
    finally:
        driver.quit()
        httpd.shutdown()
    pdf = base64.b64decode(result["data"])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(pdf)
    return page_count(pdf), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the built book to one PDF with headless Chromium.")
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=None, help=f"default: <html>/{PDF_NAME}")
    args = parser.parse_args(argv)
    out = args.out or args.html / PDF_NAME
    try:
        pages, seconds = print_book(args.html.resolve(), out)
    except RuntimeError as err:
        raise SystemExit(str(err)) from None
    print(f"{out}: {pages} pages, {out.stat().st_size / 1e6:.1f} MB, printed in {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
