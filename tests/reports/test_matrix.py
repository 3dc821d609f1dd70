"""The matrix as Markdown: cell text per pair, footnotes, disagreement flags, per-pair details."""

from __future__ import annotations

import re

from recapp.reports import matrix
from recapp.reports.records import MatrixRecord

from .conftest import APP_B, APP_S, APP_T, DISAGREE, REC_S, REC_T, SINGLETON


def md_rows(table: str) -> list[list[str]]:
    """Rows of a github-format table (header included, separator excluded), cells unpadded."""
    rows = []
    for line in table.splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def md_cell(text: str, rec: str, app: str) -> str:
    table = text.split("\n\n")[0]
    header, *body = md_rows(table)
    column = next(i for i, h in enumerate(header) if h.startswith(app + " "))
    return next(row[column] for row in body if row[0].startswith(rec + " "))


def test_cells_show_the_highest_level_and_status(matrix_record: MatrixRecord) -> None:
    text = matrix.overview_markdown(matrix.view(matrix_record))
    assert md_cell(text, REC_T, APP_B) == "L2 → L3 FAIL [1]"
    assert md_cell(text, REC_T, APP_T) == "L4 PASS"
    assert md_cell(text, REC_T, APP_S) == "L1 HANG [2]"
    assert md_cell(text, REC_S, APP_B) == "L1 REFUSED [3] ⚠"
    assert md_cell(text, REC_S, APP_T) == "L3 → L4 WRONG [4]"
    assert md_cell(text, REC_S, APP_S) == "L2 → L3 SKIPPED [5]"


def test_rows_and_columns_carry_their_versions(matrix_record: MatrixRecord) -> None:
    mv = matrix.view(matrix_record)
    assert mv.row_labels == [
        f"{REC_T} (PMIx 5.0.7, PRRTE 3.0.8)",  # podman's version is not a matrix axis
        f"{REC_S} (PMIx 7.0.0~rc1, PRRTE 5.0.0rc1)",
    ]
    assert mv.column_labels[0] == f"{APP_B} (PMIx 4.2.2, Open MPI 4.1.4)"


def test_footnotes_carry_the_reasons_escaped_for_markdown(matrix_record: MatrixRecord) -> None:
    text = matrix.overview_markdown(matrix.view(matrix_record))
    notes = [line for line in text.splitlines() if re.match(r"\d+\. ", line)]
    assert notes[0] == f"1. {REC_T} × {APP_B}: {SINGLETON}"
    # a `|` in a reason must not split the table row; raw HTML is shown, not interpreted
    assert notes[3] == f"4. {REC_S} × {APP_T}: ring: rank 2 received 7 \\| expected 3"
    assert "\\<script>alert('x')\\</script>" in notes[2]
    # a control character (an ANSI escape from a log) is shown as `\x1b` (its backslash escaped for
    # Markdown), never sent to a terminal
    assert notes[1].endswith("job timed out after 60 s\\\\x1b[0m")


def test_a_shared_reason_is_one_footnote(matrix_record: MatrixRecord) -> None:
    for pair in matrix_record.pairs:
        if pair.status == "WRONG":
            pair.reason = SINGLETON
    mv = matrix.view(matrix_record)
    assert [n.number for n in mv.notes] == [1, 2, 3, 4]
    assert mv.notes[0].pairs == (f"{REC_T} × {APP_B}", f"{REC_S} × {APP_T}")
    assert md_cell(matrix.overview_markdown(mv), REC_S, APP_T) == "L3 → L4 WRONG [1]"


def test_disagreements_are_listed_with_the_expectation(matrix_record: MatrixRecord) -> None:
    text = matrix.overview_markdown(matrix.view(matrix_record))
    line = next(x for x in text.splitlines() if x.startswith(f"- {REC_S} × {APP_B}"))
    assert "expected compatible (OpenPMIx docs/versions.rst, Cross-Version Compatibility)" in line
    assert line.endswith(f"got L1 REFUSED: {DISAGREE}")


def test_details_list_levels_status_seconds_reason_settings(matrix_record: MatrixRecord) -> None:
    mv = matrix.view(matrix_record)
    detail = next(d for d in mv.details if (d.rec, d.app) == (REC_T, APP_B))
    assert [(r.level, r.status, r.seconds) for r in detail.rows] == [
        ("L1", "PASS", "1.50"),
        ("L2", "PASS", "2.50"),
        ("L3", "FAIL", "3.50"),
        ("L4", "SKIPPED", "4.50"),
    ]
    assert detail.rows[2].reason == SINGLETON
    assert detail.rows[2].settings == "PMIX_MCA_gds=hash"
    assert detail.rows[0].observed == "client_version=5.0.7, server_version=5.0.7"
    text = matrix.details_markdown(mv)
    section = text.split(f"#### {REC_T} × {APP_B}: L2 → L3 FAIL\n")[1].split("####")[0]
    rows = md_rows(section)
    assert rows[0] == ["level", "status", "seconds", "reason", "settings applied", "observed"]
    assert rows[3][:5] == ["L3", "FAIL", "3.50", SINGLETON, "PMIX_MCA_gds=hash"]
    assert f"#### {REC_S} × {APP_B}: L1 REFUSED ⚠" in text


def test_a_pair_without_a_result_shows_a_dash(matrix_record: MatrixRecord) -> None:
    matrix_record.pairs = [p for p in matrix_record.pairs if (p.rec, p.app) != (REC_S, APP_S)]
    matrix_record.cells = [c for c in matrix_record.cells if (c.rec, c.app) != (REC_S, APP_S)]
    assert md_cell(matrix.overview_markdown(matrix.view(matrix_record)), REC_S, APP_S) == "—"


def test_the_stopping_level_without_cells_follows_the_highest_passed(matrix_record: MatrixRecord) -> None:
    pair = next(p for p in matrix_record.pairs if (p.rec, p.app) == (REC_T, APP_B))
    assert matrix.cell_text(pair, [], matrix_record.levels) == "L2 → L3 FAIL"
    pair.highest_level = None
    assert matrix.cell_text(pair, [], matrix_record.levels) == "L1 FAIL"


def test_markdown_section_has_the_table_and_details(matrix_record: MatrixRecord) -> None:
    text = matrix.markdown(matrix_record)
    assert text.startswith(
        "## REC × APP matrix\n\nlevels: L1, L2, L3, L4 · started 2026-11-28T13:00:00+00:00 · 321.0 s"
    )
    assert "### Per-pair details" in text
    assert text.count("#### ") == 6
