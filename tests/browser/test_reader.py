"""What a reader meets on every page, in headless Chromium at 1,400 px (desktop) and 420 px (phone).

* Nothing wider than its column: no code, printed output, table or display equation scrolls
  sideways or sticks out of the text column (``scrollWidth > clientWidth + 1``, or a right
  edge beyond the article's). The offending blocks are listed per page.
* The browser tab's title is plain text (no TeX such as ``\\(\\E G_*\\)``).
* Without a repository URL (the default build) the page has no repository, Binder or Colab
  button.
* Previous/Next runs through the chapters and back matter, never into ``book/api/``.
* Every figure of a page is numbered: each image in the article sits in a ``figure`` whose
  caption carries a number ("Fig. N"), never a bare cell output.

The first screen of each page at each width is saved to ``_build/screenshots/``.
"""
from __future__ import annotations

import pytest

from test_browser import HTML, TOC_PAGES, page_url, visit

WIDTHS = {"desktop": 1400, "mobile": 420}
HEIGHT = 900

_WIDE_BLOCKS = """
const done = arguments[arguments.length - 1];
const measure = () => {
  if (window.goldilocksFitEquations) window.goldilocksFitEquations();
  const column = document.querySelector('article.bd-article') || document.body;
  const right = column.getBoundingClientRect().right;
  const wide = [];
  const kinds = [['output', 'div.cell_output pre'], ['code', 'div.highlight pre'],
                 ['equation', 'div.math'], ['table', 'article table']];
  for (const [kind, selector] of kinds) {
    for (const el of column.querySelectorAll(selector)) {
      if (!el.getClientRects().length) continue;  // hidden (a collapsed cell)
      const box = el.getBoundingClientRect();
      if (el.scrollWidth > el.clientWidth + 1 || box.right > right + 1) {
        const id = el.closest('[id]');
        wide.push(`${kind} ${Math.max(el.scrollWidth, Math.round(box.width))} px > ` +
                  `${Math.round(Math.min(el.clientWidth || box.width, right - box.left))} px` +
                  ` (in #${id ? id.id : '?'}): ` +
                  JSON.stringify(el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 70)));
      }
    }
  }
  done(wide);
};
const later = () => setTimeout(measure, 50);
if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
  window.MathJax.startup.promise.then(later, later);
} else { later(); }
"""

_CHROME = """
const link = (sel) => { const a = document.querySelector(sel); return a ? a.getAttribute('href') : null; };
return {
  title: document.title,
  launch: [...document.querySelectorAll('a, button')]
    .filter(a => /binder|colab|jupyterhub|source-repository|launch/i.test(
        (a.getAttribute('href') || '') + ' ' + (a.className || '') + ' ' + (a.getAttribute('title') || '')
        + ' ' + (a.getAttribute('data-bs-title') || '') + ' ' + (a.getAttribute('aria-label') || '')))
    .map(a => a.outerHTML.slice(0, 120)),
  prev: link('a.left-prev'),
  next: link('a.right-next'),
  unnumbered: [...document.querySelectorAll('article.bd-article img')]
    .filter(img => { const f = img.closest('figure'); return !(f && f.querySelector('.caption-number')); })
    .map(img => (img.getAttribute('src') || '').slice(-40)),
};
"""


def wide_blocks(driver, url: str, width: int) -> list[str]:
    driver.set_window_size(width, HEIGHT)
    visit(driver, url)
    driver.set_script_timeout(30)
    return driver.execute_async_script(_WIDE_BLOCKS)


@pytest.fixture()
def restore_window(driver):
    yield
    driver.set_window_size(1280, 900)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("doc", TOC_PAGES)
def test_nothing_wider_than_its_column(doc, width, driver, server, screenshots, restore_window):
    assert (HTML / f"{doc}.html").is_file(), f"{doc}.html was not built"
    wide = wide_blocks(driver, page_url(server, doc), WIDTHS[width])
    driver.save_screenshot(str(screenshots / f"{doc.replace('/', '_')}_{width}.png"))
    assert not wide, f"{doc} at {WIDTHS[width]} px: {len(wide)} block(s) wider than the column:\n  " + \
        "\n  ".join(wide)


def test_api_pages_fit(driver, server, restore_window):
    """The generated API pages (reached from the sidebar) at both widths."""
    api = sorted(p.relative_to(HTML).with_suffix("").as_posix() for p in (HTML / "book" / "api").rglob("*.html"))
    if not api:
        pytest.skip("no API pages were built")
    failures = []
    for width in WIDTHS.values():
        for doc in api:
            wide = wide_blocks(driver, page_url(server, doc), width)
            if wide:
                failures.append(f"{doc} at {width} px:\n    " + "\n    ".join(wide))
    assert not failures, f"{len(failures)} API page(s) with blocks wider than the column:\n" + "\n".join(failures)


@pytest.mark.parametrize("doc", TOC_PAGES)
def test_title_buttons_and_neighbours(doc, driver, server):
    visit(driver, page_url(server, doc))
    state = driver.execute_script(_CHROME)
    assert "\\" not in state["title"] and "$" not in state["title"], \
        f"{doc}: the browser tab shows TeX: {state['title']!r}"
    assert not state["launch"], f"{doc}: launch or repository buttons without a repository URL: {state['launch']}"
    assert not state["unnumbered"], f"{doc}: images without a numbered caption: {state['unnumbered']}"
    for side in ("prev", "next"):
        assert not (state[side] or "").lstrip("./").startswith("api/"), \
            f"{doc}: {side} leads into the API pages ({state[side]})"
    position = TOC_PAGES.index(doc)
    if position + 1 < len(TOC_PAGES):
        after = TOC_PAGES[position + 1].rsplit("/", 1)[-1]
        assert state["next"] and state["next"].split("#")[0].endswith(f"{after}.html"), \
            f"{doc}: next is {state['next']}, the toc says {TOC_PAGES[position + 1]}"


_SEARCH = """
const done = arguments[arguments.length - 1];
const end = Date.now() + 30000;
const poll = () => {
  const items = [...document.querySelectorAll('#search-results ul.search li')];
  const finished = document.querySelector('#search-results p.search-summary');
  if ((finished && finished.textContent.trim()) || Date.now() > end) {
    setTimeout(() => done([...document.querySelectorAll('#search-results ul.search li')].map(li => ({
      href: li.querySelector('a').getAttribute('href'),
      title: li.querySelector('a').textContent,
      snippet: (li.querySelector('p.context') || {textContent: ''}).textContent}))), 1500);
  } else { setTimeout(poll, 100); }
};
poll();
"""


def test_search_ranks_chapters_first_with_plain_snippets(driver, server):
    """A word of the paper finds a chapter before any API page; titles and snippets are text."""
    driver.get(server + "search.html?q=curvature")
    driver.set_script_timeout(40)
    results = driver.execute_async_script(_SEARCH)
    assert results, "the search for 'curvature' found nothing"
    assert not results[0]["href"].startswith("book/api/"), f"first result is an API page: {results[0]}"
    first_api = next((i for i, r in enumerate(results) if r["href"].startswith("book/api/")), len(results))
    chapters_after = [r["href"] for r in results[first_api:] if not r["href"].startswith("book/api/")]
    assert not chapters_after, f"chapters ranked below API pages: {chapters_after}"
    for result in results:
        for key in ("title", "snippet"):
            text = result[key]
            assert "\\(" not in text and "\\E" not in text, f"TeX in a search {key}: {text[:120]!r}"
            assert ".ipynb" not in text and ".pdf" not in text, f"button text in a search {key}: {text[:120]!r}"


def test_pdf_of_the_whole_book(built_book, tmp_path):
    """``make pdf``: every toc page printed into one PDF by the same headless Chromium."""
    import importlib.util

    from conftest import find_browser

    find_browser()  # skip (or fail in CI) without chromium/chromedriver
    spec = importlib.util.spec_from_file_location("book_pdf", HTML.parents[1] / "book" / "_ext" / "book_pdf.py")
    book_pdf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(book_pdf)
    out = tmp_path / "book.pdf"
    pages, seconds = book_pdf.print_book(built_book, out)  # raises if math, images are missing
    print(f"\nPDF: {pages} pages in {seconds:.0f} s")
    assert out.read_bytes().startswith(b"%PDF")
    assert pages >= len(TOC_PAGES), f"{pages} PDF pages for {len(TOC_PAGES)} toc pages"


def test_click_a_figure_to_enlarge(driver, server, restore_window):
    """A figure opens full-window on a click and closes with Escape (goldilocks.js)."""
    from selenium.webdriver.common.keys import Keys

    page = next((d for d in TOC_PAGES if "<img" in (HTML / f"{d}.html").read_text(encoding="utf-8")), None)
    if page is None:
        pytest.skip("no page has a figure")
    driver.set_window_size(1400, HEIGHT)
    visit(driver, page_url(server, page))
    figures = driver.find_elements("css selector", "article figure img")
    plain = [i.get_attribute("src")[-40:] for i in figures if "gl-zoomable" not in i.get_attribute("class")]
    assert figures and not plain, f"{page}: figures that do not enlarge on a click: {plain}"
    img = figures[0]
    url = driver.current_url
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", img)
    img.click()
    assert driver.current_url == url, "the click followed the image's link instead of enlarging it"
    boxes = driver.find_elements("css selector", "div.gl-lightbox img")
    assert boxes and boxes[0].size["width"] > img.size["width"], "the figure did not open enlarged"
    driver.find_element("css selector", "body").send_keys(Keys.ESCAPE)
    assert not driver.find_elements("css selector", "div.gl-lightbox"), "Escape did not close the figure"
