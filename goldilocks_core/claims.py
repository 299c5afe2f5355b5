"""Claims tables: one row per quantitative claim of a paper, compared with this run's number
by a criterion written down before looking (``../shared/CHAPTERS.md``).

A chapter builds its rows with :func:`check` and the criteria below, shows them with
:func:`show` (a table glued under a ``claims-…`` key), and the book's scorecard gathers every
chapter's rows with :func:`collect`::

    rows = [
        claims.check("positive curvature peaks near α = 1", source="Fig. 1",
                     paper="peak at α ≈ 1", here=f"peak at α = {peak:.3g}",
                     holds=claims.within_decades(peak, 1.0, 0.5),
                     criterion="peak within half a decade of α = 1"),
    ]
    claims.show("claims-zone", rows, chapter="1 The Goldilocks zone")

Verdicts: *reproduces* (the criterion holds), *differs* (it does not), *not comparable* (the
setting differs in a way that makes the comparison meaningless, e.g. another data set).
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = ["VERDICTS", "Claim", "ClaimsTable", "check", "within", "within_decades", "at_least", "at_most",
           "between", "significant", "show", "glue_numbers", "collect", "verdict_counts", "fmt", "MIME", "scorecard_frame",
           "scorecard_html",
           "counts_frame"]

VERDICTS = ("reproduces", "differs", "not comparable")
MIME = "application/vnd.goldilocks.claims+json"
COLUMNS = ("claim", "source", "paper", "here", "criterion", "verdict")


@dataclasses.dataclass(frozen=True)
class Claim:
    """One row of a claims table: a claim, its source, both numbers, the criterion and the verdict.

    Parameters
    ----------
    claim : str
        The paper's statement, in a few words.
    source : str
        Where the paper makes it ("Fig. 1", "Eq. 8", "§5").
    paper, here : str
        The paper's number or statement, and this run's.
    criterion : str
        The criterion, as decided before the number was known.
    verdict : str
        One of :data:`VERDICTS`; anything else is a ``ValueError``.
    """

    claim: str
    source: str
    paper: str
    here: str
    criterion: str
    verdict: str

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {self.verdict!r}")


def check(claim: str, *, source: str, paper: str, here: str, holds: bool | None, criterion: str,
          comparable: bool = True) -> Claim:
    """Build a :class:`Claim` whose verdict follows from ``holds``.

    ``None`` or ``comparable=False`` give *not comparable*; otherwise the verdict is
    *reproduces* when ``holds`` is true and *differs* when it is not.

    Parameters
    ----------
    claim : str
        The paper's statement, in a few words.
    source : str
        Where the paper makes it ("Fig. 1", "Eq. 8", "§5").
    paper, here : str
        The paper's number or statement, and this run's.
    holds : bool or None
        Whether ``criterion`` holds for this run's number.
    criterion : str
        The criterion, as decided before the number was known.
    comparable : bool
        ``False`` when the setting differs so that the comparison is meaningless.

    Returns
    -------
    Claim
    """
    if not comparable or holds is None:
        verdict = "not comparable"
    else:
        verdict = "reproduces" if bool(holds) else "differs"
    return Claim(claim, source, paper, here, criterion, verdict)


# ------------------------------------------------------------------------------ criteria

def _finite(*values: float) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(float(v)) for v in values)


def within(value: float, target: float, *, rtol: float = 0.0, atol: float = 0.0) -> bool:
    """Test |value − target| ≤ atol + rtol·|target|, which is ``False`` for NaN or inf.

    Parameters
    ----------
    value, target : float
        This run's number and the paper's.
    rtol, atol : float
        Relative and absolute tolerances.

    Returns
    -------
    bool
    """
    value, target = float(value), float(target)
    return _finite(value, target) and abs(value - target) <= atol + rtol * abs(target)


def within_decades(value: float, target: float, decades: float) -> bool:
    """Test |log10(value / target)| ≤ decades for positive numbers (``False`` otherwise).

    Parameters
    ----------
    value, target : float
        This run's number and the paper's.
    decades : float
        The allowed distance in orders of magnitude.

    Returns
    -------
    bool
    """
    value, target = float(value), float(target)
    if not (_finite(value, target) and value > 0 and target > 0):
        return False
    return abs(math.log10(value / target)) <= decades


def at_least(value: float, bound: float) -> bool:
    """Test value ≥ bound (``False`` for NaN).

    Parameters
    ----------
    value, bound : float
        The number and its lower bound.

    Returns
    -------
    bool
    """
    return _finite(float(value)) and float(value) >= bound


def at_most(value: float, bound: float) -> bool:
    """Test value ≤ bound (``False`` for NaN).

    Parameters
    ----------
    value, bound : float
        The number and its upper bound.

    Returns
    -------
    bool
    """
    return _finite(float(value)) and float(value) <= bound


def between(value: float, lo: float, hi: float) -> bool:
    """Test lo ≤ value ≤ hi (``False`` for NaN).

    Parameters
    ----------
    value : float
        The number.
    lo, hi : float
        The bounds.

    Returns
    -------
    bool
    """
    return at_least(value, lo) and at_most(value, hi)


def significant(value: float, digits: int = 3) -> float:
    """Round ``value`` to ``digits`` significant digits, as a number (tables and glued values).

    Parameters
    ----------
    value : float
        The number.
    digits : int
        Significant digits.

    Returns
    -------
    float
        The rounded value (−0.0 becomes 0.0); NaN and inf unchanged.
    """
    value = float(value)
    return float(fmt(value, digits)) + 0.0 if math.isfinite(value) else value


def fmt(value: float, digits: int = 3) -> str:
    """Format ``value`` with ``digits`` significant digits, as a reader would write it (no timings).

    Parameters
    ----------
    value : float
        The number.
    digits : int
        Significant digits.

    Returns
    -------
    str
        ``str(value)`` for NaN and inf.
    """
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


# ------------------------------------------------------------------------------ tables

class ClaimsTable:
    """The claims rows of one chapter, shown as a table and carried as JSON for the scorecard.

    Displayed as HTML and plain text; its JSON has the mimetype :data:`MIME`.

    Parameters
    ----------
    rows : sequence of Claim
        The chapter's claims.
    chapter : str
        The chapter's title.
    page : str
        The notebook's name (default: filled in by :func:`collect` from the file name).
    """

    def __init__(self, rows: Sequence[Claim], chapter: str, page: str = ""):
        self.rows = list(rows)
        self.chapter = chapter
        self.page = page

    def to_frame(self) -> pd.DataFrame:
        """Return one row per claim with columns claim, source, paper, here, criterion, verdict.

        Returns
        -------
        pandas.DataFrame
        """
        return pd.DataFrame([dataclasses.asdict(r) for r in self.rows], columns=list(COLUMNS))

    def _display_frame(self) -> pd.DataFrame:
        df = self.to_frame()
        return df[["claim", "source", "paper", "here", "verdict"]]

    def __repr__(self) -> str:
        import textwrap

        # text outputs of the book stay within 100 characters a line
        return "\n".join(textwrap.fill(f"[{r.verdict}] {r.claim} ({r.source}): paper {r.paper}; here {r.here}",
                                        width=100, subsequent_indent="    ") for r in self.rows)

    def _repr_html_(self) -> str:
        html = self._display_frame().to_html(index=False, escape=True, classes="claims-table", border=0)
        return html.replace("<td>reproduces</td>", '<td class="verdict-reproduces">reproduces</td>').replace(
            "<td>differs</td>", '<td class="verdict-differs">differs</td>').replace(
            "<td>not comparable</td>", '<td class="verdict-not-comparable">not comparable</td>')

    def _repr_mimebundle_(self, include=None, exclude=None):
        payload = {"chapter": self.chapter, "page": self.page,
                   "rows": [dataclasses.asdict(r) for r in self.rows]}
        # a JSON string, not an object: nbval joins output values as text (collect() parses it)
        return {"text/plain": repr(self), "text/html": self._repr_html_(),
                MIME: json.dumps(payload, ensure_ascii=False)}


def show(key: str, rows: Iterable[Claim], *, chapter: str, page: str = "", display: bool = True) -> ClaimsTable:
    """Glue the chapter's claims table under ``key`` (it starts with ``claims``) and show it.

    Parameters
    ----------
    key : str
        The glue key, starting with ``claims`` (``ValueError`` otherwise).
    rows : iterable of Claim
        The chapter's claims.
    chapter : str
        The chapter's title.
    page : str
        The notebook's name.
    display : bool
        Also display the table.

    Returns
    -------
    ClaimsTable
    """
    if not key.startswith("claims"):
        raise ValueError(f"claims keys start with 'claims', got {key!r}")
    table = ClaimsTable(rows, chapter, page)
    from myst_nb import glue

    glue(key, table, display=display)
    return table


def glue_numbers(numbers: Mapping[str, Any], prefix: str = "") -> None:
    """Glue every number a page's prose cites (``{glue:text}``) as ``prefix + key``, not displayed.

    Parameters
    ----------
    numbers : mapping of str to number
        The numbers, by name; NumPy scalars are glued as Python numbers (their text is the
        number, not ``np.float64(…)``).
    prefix : str
        Put before every name, e.g. ``"fs-"``.
    """
    from myst_nb import glue

    for key, value in numbers.items():
        glue(f"{prefix}{key}", value.item() if isinstance(value, np.generic) else value, display=False)


def collect(folder: str | Path, notebooks: Sequence[str] | None = None) -> pd.DataFrame:
    """Gather every claims row glued in the notebooks of ``folder``: the book's scorecard.

    Parameters
    ----------
    folder : str or pathlib.Path
        The folder of executed notebooks.
    notebooks : sequence of str, optional
        File names, in this order (default: all ``*.ipynb``, sorted).

    Returns
    -------
    pandas.DataFrame
        The claims columns with ``chapter, page`` added. ``FileNotFoundError`` for a missing
        notebook.
    """
    import nbformat

    folder = Path(folder)
    paths = [folder / n for n in notebooks] if notebooks else sorted(folder.glob("*.ipynb"))
    frames = []
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"no notebook {path}")
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                payload = out.get("data", {}).get(MIME)
                if payload is None:
                    continue
                if isinstance(payload, str):
                    payload = json.loads(payload)
                df = pd.DataFrame(payload["rows"], columns=list(COLUMNS))
                df.insert(0, "page", payload.get("page") or path.stem)
                df.insert(0, "chapter", payload["chapter"])
                frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["chapter", "page", *COLUMNS])
    return pd.concat(frames, ignore_index=True)


def verdict_counts(table: pd.DataFrame) -> pd.Series:
    """Count the rows of each verdict (every verdict listed, zeros included).

    Parameters
    ----------
    table : pandas.DataFrame
        A claims table with a ``verdict`` column.

    Returns
    -------
    pandas.Series
        Indexed by :data:`VERDICTS`.
    """
    return table["verdict"].value_counts().reindex(list(VERDICTS), fill_value=0)


# ------------------------------------------------------------------------------ scorecard

SCORECARD_COLUMNS = ("claim", "section / figure", "paper", "here", "verdict", "chapter")


def scorecard_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Build the scorecard's rows from :func:`collect`'s table.

    Columns: claim, section / figure, paper, here, verdict, and the chapter as an HTML link to
    ``<page>.html``; every other cell is HTML-escaped, so the frame is meant for
    ``to_html(escape=False)``, as :func:`scorecard_html` does.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`collect` (``ValueError`` when columns are missing).

    Returns
    -------
    pandas.DataFrame
    """
    import html

    missing = {"chapter", "page", "claim", "source", "paper", "here", "verdict"} - set(table.columns)
    if missing:
        raise ValueError(f"not a claims table from collect(): missing columns {sorted(missing)}")
    esc = (lambda v: html.escape(str(v)))
    out = pd.DataFrame({
        "claim": table["claim"].map(esc), "section / figure": table["source"].map(esc),
        "paper": table["paper"].map(esc), "here": table["here"].map(esc), "verdict": table["verdict"].map(esc),
        "chapter": [f'<a href="{html.escape(str(p), quote=True)}.html">{esc(c)}</a>'
                    for c, p in zip(table["chapter"], table["page"])],
    }, columns=list(SCORECARD_COLUMNS))
    return out.reset_index(drop=True)


def scorecard_html(table: pd.DataFrame) -> str:
    """Render :func:`scorecard_frame` as an HTML table, verdict cells classed like the chapters' tables.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`collect`.

    Returns
    -------
    str
        HTML; a short note when no chapter has a claims table yet.
    """
    frame = scorecard_frame(table)
    if frame.empty:
        return "<p><em>No chapter has a claims table yet.</em></p>"
    html = frame.to_html(index=False, escape=False, classes="claims-table scorecard", border=0)
    for verdict in VERDICTS:
        cls = "verdict-" + verdict.replace(" ", "-")
        html = html.replace(f"<td>{verdict}</td>", f'<td class="{cls}">{verdict}</td>')
    return html


def counts_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Count the claims of each verdict, and the total, as a one-column table.

    Parameters
    ----------
    table : pandas.DataFrame
        A claims table with a ``verdict`` column.

    Returns
    -------
    pandas.DataFrame
        One column ``claims``, indexed by verdict and ``total``.
    """
    counts = verdict_counts(table)
    counts["total"] = int(counts.sum())
    return counts.rename("claims").to_frame()
