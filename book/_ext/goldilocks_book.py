"""Sphinx glue for the Goldilocks book: the paper's equation numbers and offline MathJax.

(The API reference pages are made by the sibling extension ``goldilocks_api``.) It also
drops the duplicated inline scripts that sphinx-thebe and sphinx-togglebutton leave in every
page under Sphinx 7.4 (a console SyntaxError).

Equation numbers
    A display equation labelled ``eq-<N>`` (MyST: ``$$ ... $$ (eq-5)``) is shown and
    referenced (``{eq}`eq-5```) as "(5)", the paper's own number, on whatever page it sits.
    ``eq-<N>-<anything>`` restates the same equation on another page (labels are global)
    and is also shown as "(N)". Another paper's equations carry a prefix named in
    ``goldilocks_equation_prefixes`` (``fg-eq-16`` → "(FG 16)"). Any other label is an
    auxiliary equation of the book, numbered per page in lower-case roman numerals
    "(i), (ii), …" so that it never collides with a paper number.

MathJax
    Loaded on every page (titles with math appear in every page's sidebar). When ``book/_static/mathjax/tex-mml-chtml.js`` exists (``make mathjax`` copies it from the
    npm package ``mathjax@3``) the pages load that copy: math renders without internet.
    ``GOLDILOCKS_MATHJAX=cdn`` (or no local copy) keeps Sphinx's default, the jsDelivr CDN.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from docutils import nodes

_LABEL = re.compile(r"^(?:(?P<prefix>[a-z]+)-)?eq-(?P<number>\d+[a-z]?)(?:-[\w-]+)?$")
LOCAL_MATHJAX = "mathjax/tex-mml-chtml.js"  # relative to the html_static_path entry book/_static


def _roman(n: int) -> str:
    out = []
    for value, letters in ((10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i")):
        while n >= value:
            out.append(letters)
            n -= value
    return "".join(out)


def paper_number(label: str, prefixes: dict[str, str]) -> str | None:
    """The displayed number of a paper equation's label, or ``None`` for other labels."""
    match = _LABEL.match(label)
    if not match:
        return None
    prefix = match["prefix"]
    if prefix is None:
        return match["number"]
    if prefix in prefixes:
        return f"{prefixes[prefix]} {match['number']}"
    return None


def _number_equations(app, doctree: nodes.document) -> None:
    """Replace Sphinx's per-page serial numbers by the paper's (see the module docstring)."""
    domain = app.env.get_domain("math")
    prefixes = app.config.goldilocks_equation_prefixes
    auxiliary = 0
    for node in doctree.findall(nodes.math_block):
        label = node.get("label")
        if not label or not node.get("number"):
            continue
        number = paper_number(label, prefixes)
        if number is None:
            auxiliary += 1
            number = _roman(auxiliary)
        node["number"] = number
        docname, _ = domain.equations[label]
        domain.equations[label] = (docname, number)


def _choose_mathjax(app, config) -> None:
    local = Path(app.srcdir) / "book" / "_static" / LOCAL_MATHJAX
    if not local.is_file():
        return
    if os.environ.get("GOLDILOCKS_MATHJAX", "local").lower() == "cdn":
        # the CDN serves MathJax: leave the local copy (12 MB) out of _static
        config.exclude_patterns = [*config.exclude_patterns, LOCAL_MATHJAX.split("/")[0]]
        return
    config.mathjax_path = LOCAL_MATHJAX


def _mathjax_everywhere(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context`` (before Sphinx's MathJax hook): load MathJax on every page.

    Sphinx adds MathJax only to pages with math in their body, but a title with math
    ("Eigenvalues of $\\E G_*$") is also shown in every page's sidebar, where it would stay
    raw TeX.
    """
    app.env.get_domain("math").data["has_equations"][pagename] = True


def _dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``: drop repeated ``<script>`` entries.

    With Sphinx 7.4, sphinx-thebe and sphinx-togglebutton register their inline
    configuration twice; the second ``const THEBE_JS_URL`` is a SyntaxError in every page's
    console. Keeping the first of identical entries changes nothing else.
    """
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, unique = set(), []
    for script in scripts:
        key = (str(getattr(script, "filename", script) or ""),  # None and "" both mean inline
               tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def setup(app):
    app.add_config_value("goldilocks_equation_prefixes", {}, "env", [dict])
    app.connect("config-inited", _choose_mathjax)
    app.connect("doctree-read", _number_equations)
    app.connect("html-page-context", _mathjax_everywhere, priority=400)
    app.connect("html-page-context", _dedupe_scripts)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
