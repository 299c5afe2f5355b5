"""Sphinx glue for how a reader meets the book: launch buttons, titles, Previous/Next, search.

Repository and launch buttons
    One setting decides them: the repository URL, ``repository.url`` in ``_config.yml``,
    overridden by the environment variable ``GOLDILOCKS_REPOSITORY_URL``. Empty (the
    default: the book has no public home yet) means no repository button and no Binder or
    Colab button; a URL turns on the repository button and the launch buttons of
    ``launch_buttons`` in ``_config.yml``.

Plain-text titles
    A title with math ("Eigenvalues of $\\E G_*$") is shown as text in the browser tab,
    in Previous/Next and in search results ("Eigenvalues of E G*"), where MathJax does not
    run; the page itself and the sidebar keep the typeset math.

Search
    ``html_search_scorer`` (``book/_static/search_scorer.js``) ranks the chapters above
    the API pages.

Previous/Next
    Runs through the toc's chapters and back matter; the generated API pages
    (``book/api/...``) keep their own order among themselves but are stepped over by the
    chapters (``book/api`` → ``book/references``).
"""
from __future__ import annotations

import html
import os
import re

REPOSITORY_ENV = "GOLDILOCKS_REPOSITORY_URL"
API_PREFIX = "book/api/"

_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "Gamma": "Γ", "delta": "δ", "Delta": "Δ",
    "epsilon": "ε", "varepsilon": "ε", "theta": "θ", "lambda": "λ", "Lambda": "Λ", "mu": "μ",
    "sigma": "σ", "Sigma": "Σ", "tau": "τ", "phi": "φ", "varphi": "φ", "psi": "ψ", "omega": "ω",
    "E": "E", "R": "ℝ", "Tr": "Tr", "diag": "diag", "cdot": "·", "times": "×", "le": "≤",
    "leq": "≤", "ge": "≥", "geq": "≥", "approx": "≈", "infty": "∞", "to": "→", "sum": "Σ",
    "top": "ᵀ", "prime": "′", "ell": "ℓ", "nabla": "∇", "partial": "∂", "in": "∈", "ne": "≠",
    "gtrsim": "≳", "lesssim": "≲", "lVert": "‖", "rVert": "‖", "left": "", "right": "",
}
_MATH_HTML = re.compile(r'<span class="math[^"]*">(.*?)</span>', re.S)
_INLINE = re.compile(r"\\\((.*?)\\\)|\$(.+?)\$", re.S)


def plain_tex(tex: str) -> str:
    """Readable text for a short TeX formula: ``\\E G_*`` → ``E G*``, ``\\Gamma_p`` → ``Γp``.

    Parameters
    ----------
    tex : str
        The formula without its delimiters.

    Returns
    -------
    str
        Greek letters and common symbols as Unicode, ``\\norm{x}`` as ``‖x‖``, other
        commands by their name; sub- and superscript marks and braces dropped.
    """
    text = re.sub(r"\\norm\{([^{}]*)\}", r"‖\1‖", tex)
    text = re.sub(r"\\(?:operatorname|mathrm|mathbb|mathbf|text|mathcal)\{([^{}]*)\}",
                  lambda m: "ℝ" if m[1] == "R" else m[1], text)
    text = re.sub(r"\^\{?\\top\}?", "ᵀ", text)
    text = re.sub(r"\\([A-Za-z]+)", lambda m: _SYMBOLS.get(m[1], m[1]), text)
    text = re.sub(r"\\([,;:! ])", " ", text)
    text = text.replace("{", "").replace("}", "").replace("_", "").replace("^", "")
    return re.sub(r"\s+", " ", text).strip()


def plain_title(title: str) -> str:
    """``title`` (HTML or text, maybe with math) as plain text without TeX."""
    text = _MATH_HTML.sub(lambda m: m[1], title or "")
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    return _INLINE.sub(lambda m: plain_tex(m[1] if m[1] is not None else m[2]), text)


# -- repository and launch buttons ----------------------------------------------------------

def repository_url(configured: str | None) -> str:
    """The publisher's repository URL: the environment variable, else ``_config.yml``'s."""
    url = os.environ.get(REPOSITORY_ENV)
    if url is None:
        url = configured or ""
    return url.strip().rstrip("/")


def _configure_buttons(app, config) -> None:
    options = config.html_theme_options
    url = repository_url(options.get("repository_url"))
    if url:
        options["repository_url"] = url
        options["use_repository_button"] = True
    else:
        options.pop("repository_url", None)
        options["use_repository_button"] = False
        options["launch_buttons"] = {}
    options["use_edit_page_button"] = bool(url) and options.get("use_edit_page_button", False)
    options["use_issues_button"] = bool(url) and options.get("use_issues_button", False)


# -- plain titles in the tab and in search ----------------------------------------------------

def _plain_search_titles(app) -> None:
    builder = app.builder
    if not hasattr(builder, "index_page"):
        return
    index_page = builder.index_page

    def plain_index_page(pagename, doctree, title):
        index_page(pagename, doctree, plain_title(title))
        indexer = getattr(builder, "indexer", None)
        all_titles = getattr(indexer, "_all_titles", None)
        if isinstance(all_titles, dict) and pagename in all_titles:
            all_titles[pagename] = [(plain_title(t), anchor) for t, anchor in all_titles[pagename]]

    builder.index_page = plain_index_page


def reading_order(env, root: str) -> list[str]:
    """Every document in the order of the sidebar (Sphinx's ``next`` links from ``root``)."""
    relations = env.collect_relations()
    order, doc, seen = [], root, set()
    while doc and doc not in seen:
        order.append(doc)
        seen.add(doc)
        doc = relations.get(doc, [None, None, None])[2]
    return order


def _link(app, pagename: str, other: str) -> dict:
    title_node = app.env.titles.get(other)
    title = app.builder.render_partial(title_node)["title"] if title_node else other
    return {"link": app.builder.get_relative_uri(pagename, other), "title": plain_title(title)}


def _page_context(app, pagename, templatename, context, doctree) -> None:
    if context.get("title"):
        context["title"] = html.escape(plain_title(context["title"]), quote=False)
    for key in ("prev", "next"):
        if context.get(key) and context[key].get("title"):
            context[key]["title"] = html.escape(plain_title(context[key]["title"]), quote=False)
    if pagename.startswith(API_PREFIX) or doctree is None:
        return
    order = getattr(app.builder, "_goldilocks_reading_order", None)
    if order is None:  # once per build, after every document has been read
        order = [d for d in reading_order(app.env, app.config.root_doc) if not d.startswith(API_PREFIX)]
        app.builder._goldilocks_reading_order = order
    if pagename not in order:
        return
    i = order.index(pagename)
    context["prev"] = _link(app, pagename, order[i - 1]) if i > 0 else None
    context["next"] = _link(app, pagename, order[i + 1]) if i + 1 < len(order) else None


def _absolute_scorer(app, config) -> None:
    """``html_search_scorer`` is opened relative to the working directory: anchor it at the book."""
    scorer = config.html_search_scorer
    if scorer and not os.path.isabs(scorer):
        config.html_search_scorer = os.path.join(str(app.srcdir), scorer)


def setup(app):
    app.connect("config-inited", _configure_buttons, priority=900)
    app.connect("config-inited", _absolute_scorer)
    app.connect("builder-inited", _plain_search_titles)
    app.connect("html-page-context", _page_context, priority=450)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
