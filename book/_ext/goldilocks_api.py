"""The API reference of the Goldilocks book: one page per module of ``goldilocks_core``.

At ``builder-inited`` every public submodule of the packages in ``goldilocks_api_packages``
(names without a leading underscore, so never ``__main__``) gets a page
``book/api/<module>.rst`` rendered from ``book/_templates/api/module.rst``; pages of
modules that no longer exist are removed. A module that appears later is picked up by the
next build without any edit. ``book/api/`` is git-ignored.

* Each object is documented once, in the module that defines it (or by its package when
  that module is private). A package's page lists what it re-exports (``__all__``) with
  links to the defining module, so no cross-reference is ambiguous.
* ``.. goldilocks-modules:: <package>`` (reST, or ``eval-rst`` in MyST) renders a table
  of the package's submodules with their one-line summaries and a hidden toctree, which
  nests the pages in the sidebar.
* A docstring may name a package object by its short name (``:class:`Dataset```) from any
  module: a Python reference that does not resolve exactly is resolved when exactly one
  documented object carries that name (the nearest one, when several do).
* ``|λ|`` in a docstring is an absolute value, not a reST substitution: its bars are
  escaped before parsing. Constants are listed with their values; one without a doc
  comment (``#:``) shows no docstring rather than its type's.

Pages are written (and so re-read by Sphinx) only when their text changes.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_refnode

logger = logging.getLogger(__name__)

TEMPLATE = "api/module.rst"
_EXTERNAL = ("torch", "nn", "numpy", "np", "pandas", "pd", "scipy", "matplotlib", "plt")


def _private(dotted: str) -> bool:
    return any(part.startswith("_") for part in dotted.split("."))


def _kind(obj) -> str:
    if inspect.isclass(obj):
        return "exception" if issubclass(obj, BaseException) else "class"
    if callable(obj) and hasattr(obj, "__module__"):
        return "function"
    return "data"


def public_modules(package: str) -> list[str]:
    """``package`` and all its public submodules, recursively, sorted (``package`` first)."""
    found = [package]
    root = importlib.import_module(package)
    if hasattr(root, "__path__"):
        for info in pkgutil.walk_packages(root.__path__, prefix=package + ".", onerror=lambda name: None):
            if not _private(info.name):
                found.append(info.name)
    return sorted(found)


def submodules(modname: str) -> list[str]:
    """The direct public submodules of package ``modname`` (full names); ``[]`` for a module."""
    module = sys.modules.get(modname) or importlib.import_module(modname)
    if not hasattr(module, "__path__"):
        return []
    return sorted(f"{modname}.{info.name}" for info in pkgutil.iter_modules(module.__path__)
                  if not info.name.startswith("_"))


def api_members(modname: str) -> dict:
    """The public names of module ``modname``: those it defines and where re-exports live.

    Returns ``{"own": [...], "entries": [{"name", "kind", "target"}, ...]}``: ``own`` are
    the names documented on this module's page; ``target`` is the dotted path (relative to
    ``modname`` when inside it) of the page that documents the object. The public names are
    ``__all__`` when the module has one, else the functions and classes it defines.
    """
    module = importlib.import_module(modname)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n, obj in vars(module).items()
                 if not n.startswith("_") and (inspect.isclass(obj) or inspect.isfunction(obj))
                 and getattr(obj, "__module__", None) == modname]
    top = modname.split(".")[0] + "."
    own, entries = [], []
    for name in names:
        obj = getattr(module, name, None)
        if obj is None or inspect.ismodule(obj):
            continue
        kind = _kind(obj)
        home = getattr(obj, "__module__", None) if kind != "data" else None
        if kind == "data" and hasattr(module, "__path__"):  # a constant re-exported by a package
            home = next((sub for sub, m in sorted(sys.modules.items())
                         if sub.startswith(modname + ".") and getattr(m, name, None) is obj), None)
        if home and home != modname and home.startswith(top) and not _private(home):
            qualname = getattr(obj, "__qualname__", name) if kind != "data" else name
            target = f"{home}.{qualname}"
        else:
            own.append(name)
            target = f"{modname}.{name}"
        entries.append({"name": name, "kind": kind, "target": target.removeprefix(modname + ".")})
    return {"own": own, "entries": entries}


def _render(app, modname: str) -> str:
    from sphinx.ext.autosummary.generate import AutosummaryRenderer

    try:
        members = api_members(modname)
    except Exception as err:  # noqa: BLE001 - the page still gets made; autodoc reports why
        logger.warning("goldilocks_api: cannot import %s: %s", modname, err, type="goldilocks_api")
        members = {"own": [], "entries": []}
    context = {"fullname": modname, "is_package": bool(submodules(modname)), **members}
    return AutosummaryRenderer(app).render(TEMPLATE, context)


def write_pages(app) -> None:
    """``builder-inited``: (re)write ``book/api/<module>.rst`` for every public module."""
    folder = Path(app.srcdir) / app.config.goldilocks_api_folder
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {}
    for package in app.config.goldilocks_api_packages:
        for modname in public_modules(package)[1:]:  # the package itself is book/api.md
            wanted[folder / f"{modname}.rst"] = _render(app, modname)
    for path in folder.glob("*.rst"):
        if path not in wanted:
            path.unlink()
    for path, text in wanted.items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def _keep_pages(app, config) -> None:
    """``config-inited`` after sphinx-external-toc (900): it excludes every file missing
    from ``_toc.yml`` (``only_build_toc_files``), pages of a previous build included; the API
    pages are reached through the toctrees of ``goldilocks-modules`` instead."""
    prefix = config.goldilocks_api_folder.rstrip("/") + "/"
    config.exclude_patterns = [p for p in config.exclude_patterns if not p.startswith(prefix)]


def _first_sentence(app, modname: str, document) -> str:
    from sphinx.ext.autosummary import extract_summary

    doc = inspect.getdoc(sys.modules.get(modname) or importlib.import_module(modname)) or ""
    lines = doc.splitlines()
    return extract_summary(lines, document) if lines else ""


class ModulesDirective(SphinxDirective):
    """``.. goldilocks-modules:: package``: table of submodules + hidden toctree."""

    required_arguments = 1
    option_spec = {"caption": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        package = self.arguments[0]
        folder = "/" + self.config.goldilocks_api_folder.strip("/")
        mods = submodules(package)
        lines = [".. list-table::", "   :class: goldilocks-modules", "   :widths: 35 65", ""]
        for mod in mods:
            summary = _first_sentence(self.env.app, mod, self.state.document).replace("\n", " ")
            lines += [f"   * - :mod:`{mod.removeprefix(package + '.')} <{mod}>`",
                      f"     - {summary}"]
        lines += ["", ".. toctree::", "   :hidden:", ""]
        lines += [f"   {folder}/{mod}" for mod in mods]
        container = nodes.container()
        self.state.nested_parse(StringList(lines, source=self.get_source_info()[0]), self.content_offset, container)
        return container.children


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a.split("."), b.split(".")):
        if x != y:
            break
        n += 1
    return n


def _defining_name(target: str) -> str | None:
    """``pkg.name`` re-exported from ``pkg.module`` → ``"pkg.module.name"`` (by importing)."""
    parts = target.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        modname = ".".join(parts[:cut])
        try:
            obj = sys.modules.get(modname) or importlib.import_module(modname)
        except Exception:  # noqa: BLE001 - not a module: try a shorter prefix
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        home, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
        return f"{home}.{qualname}" if home and qualname else None
    return None


def _resolve_short_names(app, env, node, contnode):
    """``missing-reference``: a Python reference by short or re-exported name.

    A dotted target that imports (``goldilocks_core.estimators.hessian_operator``) resolves
    to the page of the module that defines the object. Otherwise the candidates are the
    documented objects whose dotted name ends with the target and whose type fits the role
    (``:func:`` → functions, …); among several, those nearest to the referring module
    (longest shared dotted prefix) win; a tie stays unresolved.
    """
    if node.get("refdomain") != "py" or node.get("refspecific"):
        return None
    target = node.get("reftarget", "")
    if not target or target.startswith(("~", ".")) or target.split(".")[0] in _EXTERNAL:
        return None
    domain = env.get_domain("py")
    if "." in target and target.split(".")[0] in app.config.goldilocks_api_packages:
        home = _defining_name(target)
        if home and home in domain.objects and home != target:
            obj = domain.objects[home]
            return make_refnode(app.builder, node["refdoc"], obj.docname, obj.node_id, contnode, home)
    kinds = set(domain.objtypes_for_role(node.get("reftype", "obj")) or ())
    candidates = [name for name, obj in domain.objects.items()
                  if (name == target or name.endswith("." + target)) and not obj.aliased
                  and (not kinds or obj.objtype in kinds)]
    if not candidates:
        return None
    here = node.get("py:module") or ""
    best = max(_shared_prefix(here, name) for name in candidates)
    nearest = [name for name in candidates if _shared_prefix(here, name) == best]
    if len(nearest) != 1:
        return None
    obj = domain.objects[nearest[0]]
    return make_refnode(app.builder, node["refdoc"], obj.docname, obj.node_id, contnode, nearest[0])


_ABS = re.compile(r"(?<![\\|`\w])\|(?=[^\s|])([^|`\n]*?[^\s|\\])\|(?![\w|])")


def _process_docstring(app, what, name, obj, options, lines) -> None:
    """``autodoc-process-docstring``.

    * A constant without a doc comment (``#:``) gets no docstring, not its type's
      (``tuple``'s "Built-in immutable sequence…").
    * ``|λ|`` in a docstring is an absolute value, not a reST substitution reference (none
      is defined for docstrings): its bars are escaped outside literals (````...````).
    """
    if what in ("data", "attribute") and not inspect.isclass(obj) and not callable(obj):
        type_doc = inspect.getdoc(type(obj))
        if type_doc and "\n".join(lines).strip() == type_doc.strip():
            lines[:] = []
    for i, line in enumerate(lines):
        if "|" not in line:
            continue
        parts = re.split(r"(``.*?``)", line)
        lines[i] = "".join(part if part.startswith("``") else _ABS.sub(r"\\|\1\\|", part) for part in parts)


# Docstrings cite equations and figures ("… (Eq. 2)."): autosummary's one-line summaries
# must not end at those abbreviations' periods.
_ABBREVIATIONS = ("Eq.", "Eqs.", "Fig.", "Figs.", "App.", "Sec.", "Thm.", "Prop.", "cf.", "e.g.", "vs.", "resp.")


def setup(app):
    import sphinx.ext.autosummary as autosummary

    known = tuple(autosummary.WELL_KNOWN_ABBREVIATIONS)
    autosummary.WELL_KNOWN_ABBREVIATIONS = known + tuple(a for a in _ABBREVIATIONS if a not in known)
    app.setup_extension("sphinx.ext.autodoc")
    app.setup_extension("sphinx.ext.autosummary")
    app.add_config_value("goldilocks_api_packages", ["goldilocks_core"], "env", [list])
    app.add_config_value("goldilocks_api_folder", "book/api", "env", [str])
    app.add_directive("goldilocks-modules", ModulesDirective)
    app.connect("config-inited", _keep_pages, priority=950)
    app.connect("builder-inited", write_pages)
    app.connect("missing-reference", _resolve_short_names)
    app.connect("autodoc-process-docstring", _process_docstring)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
