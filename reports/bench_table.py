"""Bench records → tables (Markdown via tabulate)."""

from __future__ import annotations

from tabulate import tabulate

from recapp.reports.records import BenchRecord


def series_table(record: BenchRecord, fmt: str = "github") -> str:
    rows = [[s.name, len(s.samples), f"{s.median:.4f}", f"{s.spread:.4f}", s.unit] for s in record.series]
    return tabulate(
        rows, headers=["benchmark", "n", "median", "spread", "unit"], tablefmt=fmt, disable_numparse=True
    )


def ratio_table(record: BenchRecord, fmt: str = "github") -> str:
    rows = [[name, f"{value:.3f}"] for name, value in record.ratios.items()]
    return tabulate(rows, headers=["ratio (medians)", "value"], tablefmt=fmt, disable_numparse=True)


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
    )
