"""Bench records → tables (Markdown via tabulate)."""

from __future__ import annotations

from tabulate import tabulate

from recapp.reports.records import BenchRecord


def _interval(values: list[float] | None, digits: int) -> str:
    return f"{values[0]:.{digits}f} … {values[1]:.{digits}f}" if values else ""


def series_table(record: BenchRecord, fmt: str = "github") -> str:
    rows = [
        [s.name, len(s.samples), f"{s.median:.4f}", _interval(s.interval, 4), f"{s.spread:.4f}", s.unit]
        for s in record.series
    ]
    return tabulate(
        rows,
        headers=["benchmark", "n", "median", "95 % interval", "spread", "unit"],
        tablefmt=fmt,
        disable_numparse=True,
    )


def ratio_table(record: BenchRecord, fmt: str = "github") -> str:
    rows = [
        [name, f"{value:.3f}", _interval(record.ratio_intervals.get(name), 3)]
        for name, value in record.ratios.items()
    ]
    return tabulate(
        rows, headers=["ratio (medians)", "value", "95 % interval"], tablefmt=fmt, disable_numparse=True
    )


def fit_rows(record: BenchRecord) -> list[list[str]]:
    """Each least-squares line: what, the slope per x, the intercept, r², the points it was fitted on."""
    return [
        [
            name,
            f"{fit.slope:.4g} {fit.unit}/{fit.x.rstrip('s')}",
            f"{fit.intercept:.4g} {fit.unit}",
            f"{fit.r2:.3f}",
            ", ".join(f"{x:g}: {y:.3g}" for x, y in fit.points),
        ]
        for name, fit in record.fits.items()
    ]


FIT_HEADERS = ["series", "slope", "intercept", "r²", "medians (x: y)"]


def fit_table(record: BenchRecord, fmt: str = "github") -> str:
    return tabulate(fit_rows(record), headers=FIT_HEADERS, tablefmt=fmt, disable_numparse=True)


def markdown(record: BenchRecord) -> str:
    images = ", ".join(
        f"{k}: {v.ref} ({', '.join(f'{c} {ver}' for c, ver in sorted(v.versions.items()))})"
        for k, v in record.images.items()
    )
    return (
        f"# recapp bench: {record.suite}\n\n"
        f"- date: {record.started_at:%Y-%m-%d %H:%M UTC}\n- host: {record.host.get('cpu')} "
        f"({record.host.get('cores')} cores)\n- images: {images}\n- parameters: {record.parameters}\n\n"
        f"{series_table(record)}\n\n{ratio_table(record)}\n"
        + (f"\n{fit_table(record)}\n" if record.fits else "")
    )
