import math
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from goldilocks_core import claims


def test_verdict_follows_the_criterion():
    ok = claims.check("x", source="Fig. 1", paper="1", here="1.02", holds=claims.within(1.02, 1, rtol=0.05),
                      criterion="5%")
    bad = claims.check("x", source="Fig. 1", paper="1", here="1.2", holds=claims.within(1.2, 1, rtol=0.05),
                       criterion="5%")
    other = claims.check("x", source="Fig. 1", paper="1", here="1.2", holds=True, criterion="5%", comparable=False)
    assert (ok.verdict, bad.verdict, other.verdict) == ("reproduces", "differs", "not comparable")
    with pytest.raises(ValueError, match="verdict must be one of"):
        claims.Claim("x", "s", "p", "h", "c", "passes")


def test_criteria_reject_nan():
    assert not claims.within(math.nan, 1.0, rtol=1.0)
    assert not claims.at_least(math.nan, 0) and not claims.at_most(math.nan, 0)
    assert claims.within_decades(3.0, 1.0, 0.5) and not claims.within_decades(4.0, 1.0, 0.5)
    assert not claims.within_decades(-1.0, 1.0, 5)
    assert claims.between(2, 1, 3) and not claims.between(4, 1, 3)
    assert claims.fmt(0.123456) == "0.123" and claims.fmt(12345.0) == "1.23e+04"


def test_tables_round_trip_through_a_notebook(tmp_path):
    rows = [claims.check("a", source="Fig. 1", paper="1", here="1", holds=True, criterion="c"),
            claims.check("b", source="Eq. 8", paper="2", here="3", holds=False, criterion="c")]
    table = claims.ClaimsTable(rows, "1 The zone")
    bundle = table._repr_mimebundle_()
    assert "verdict-differs" in bundle["text/html"] and "[reproduces] a" in bundle["text/plain"]
    # nbval compares outputs as text: the scorecard payload is a JSON string
    assert isinstance(bundle[claims.MIME], str)
    long = claims.ClaimsTable([claims.check("x" * 150, source="s", paper="p", here="h", holds=True,
                                            criterion="c")], "ch")
    assert max(len(line) for line in repr(long).splitlines()) <= 100
    # every value is text: nbval joins output values as strings and fails on an object
    assert all(isinstance(v, str) for v in bundle.values())
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("", outputs=[nbformat.v4.new_output(
        "display_data", data=bundle, metadata={"scrapbook": {"name": "claims-zone"}})])]
    nbformat.write(nb, tmp_path / "zone.ipynb")
    score = claims.collect(tmp_path)
    assert list(score["claim"]) == ["a", "b"] and set(score["chapter"]) == {"1 The zone"}
    assert list(score["page"]) == ["zone", "zone"]
    counts = claims.verdict_counts(score)
    assert counts.to_dict() == {"reproduces": 1, "differs": 1, "not comparable": 0}
    assert claims.collect(tmp_path / "empty" if (tmp_path / "empty").mkdir() else tmp_path / "empty").empty


def _table():
    rows = [claims.check("a <b>", source="Fig. 1", paper="1", here="1", holds=True, criterion="c"),
            claims.check("b", source="Eq. 8", paper="2", here="3", holds=False, criterion="c")]
    df = claims.ClaimsTable(rows, "1 The zone").to_frame()
    df.insert(0, "page", "01_goldilocks_zone")
    df.insert(0, "chapter", "1 The zone")
    return df


def test_scorecard_frame_links_the_chapter_and_escapes_the_rest():
    frame = claims.scorecard_frame(_table())
    assert list(frame.columns) == list(claims.SCORECARD_COLUMNS)
    assert frame.loc[0, "chapter"] == '<a href="01_goldilocks_zone.html">1 The zone</a>'
    assert frame.loc[0, "claim"] == "a &lt;b&gt;"
    html = claims.scorecard_html(_table())
    assert 'class="verdict-differs">differs' in html and 'href="01_goldilocks_zone.html"' in html
    assert "No chapter" in claims.scorecard_html(pd.DataFrame(
        columns=["chapter", "page", *claims.COLUMNS]))
    with pytest.raises(ValueError, match="missing columns"):
        claims.scorecard_frame(_table().drop(columns="page"))


def test_counts_frame_lists_every_verdict_and_the_total():
    counts = claims.counts_frame(_table())
    assert counts["claims"].to_dict() == {"reproduces": 1, "differs": 1, "not comparable": 0, "total": 2}


def test_collect_reads_every_committed_chapter():
    from goldilocks_core.book import chapters, project_root

    root = project_root(Path(__file__).parent)
    names = [p.name for p in chapters(root) if p.stem != "scorecard"]
    score = claims.collect(root / "book", names)
    assert list(score.columns) == ["chapter", "page", *claims.COLUMNS]
    assert set(score["verdict"]) <= set(claims.VERDICTS)
    assert set(score["page"]) <= {Path(n).stem for n in names}
    assert claims.counts_frame(score).loc["total", "claims"] == len(score)


def test_glue_numbers_names_each_value_with_the_prefix_and_glues_plain_numbers(monkeypatch):
    import myst_nb
    import numpy as np

    glued = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.append((name, value, display)))
    claims.glue_numbers({"zone_lo": np.float64(13.7), "diverged": np.int64(2), "peak": 2.78}, prefix="fs-")
    assert glued == [("fs-zone_lo", 13.7, False), ("fs-diverged", 2, False), ("fs-peak", 2.78, False)]
    assert [type(v) for _, v, _ in glued] == [float, int, float]
    claims.glue_numbers({"net-q-sl-min": 0.25})
    assert glued[-1] == ("net-q-sl-min", 0.25, False)
