"""The benchmark's outputs: the JSON of all figures, the table with targets, the plot, BENCHMARKS.md."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

from rich.console import Console
from rich.table import Table

from clientbase.bench.targets import GIB, TARGETS

log = logging.getLogger(__name__)

MD_BEGIN = "<!-- bench:results:begin (written by `clientbase bench --write-md`; do not edit by hand) -->"
MD_END = "<!-- bench:results:end -->"
NO_RUN = "No run is recorded yet: `make bench` (M) or `make bench SIZE=L`, then `clientbase bench --write-md`.\n"


def judged(figures: dict[str, object]) -> list[dict[str, object]]:
    """Every target with its figure's value and whether it is met (None: not measured)."""
    return [{"figure": t.figure, "value": figures.get(t.figure), "target": f"{t.op} {_fmt(t.figure, t.limit)}",
             "text": t.text, "met": t.met(figures.get(t.figure))} for t in TARGETS]


def _fmt(name: str, value: object) -> str:
    if value is None:
        return "not measured"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if name.endswith("_bytes"):
        return f"{value / GIB:.2f} GiB" if value >= GIB / 4 else f"{value / 2 ** 20:.0f} MiB"
    if name.endswith("_per_s"):
        return f"{value:,.0f} rows/s"
    if name.endswith("_s"):
        return f"{value:,.1f} s"
    if isinstance(value, float):
        return f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def write_json(result: dict, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{result['size']}-{result['date']}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


def print_table(result: dict, console: Console) -> None:
    """Every figure; the targeted ones with their target and whether they are met."""
    table = Table(title=f"clientbase bench {result['size']} ({result['date']}, {result['machine']['cpus']} cores)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target")
    table.add_column("met")
    for row in result["targets"]:
        met = {True: "[green]met[/]", False: "[red]not met[/]", None: "[yellow]not measured[/]"}[row["met"]]
        value = _fmt(row["figure"], row["value"]) if row["value"] is not None else result.get(
            "not_measured", {}).get(row["figure"], "not measured")
        table.add_row(row["text"], value, row["target"], met)
    table.add_section()
    for name, value in result["figures"].items():
        if name not in {t.figure for t in TARGETS}:
            table.add_row(name, _fmt(name, value), "", "")
    console.print(table)


def plot(result: dict, path: Path) -> Path:
    """Close time per month of the month-by-month series (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = result["series"]
    months = [s["month"] for s in series]
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    ax.bar(range(len(series)), [s["seconds"] for s in series], color="#4477aa", label="clientbase run (whole close)")
    kpi = [s["phases"].get("monthly_kpi") for s in series]
    if all(v is not None for v in kpi):
        ax.plot(range(len(series)), kpi, color="#ee6677", marker="o", label="of which monthly_kpi")
    ax.set_xticks(range(len(series)), months, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("seconds")
    sparse = "" if result["series_mode"] == "all" else " (sparse series: months in between closed together)"
    ax.set_title(f"close time per month, size {result['size']}{sparse}")
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def markdown(results: list[dict]) -> str:
    """The figures of the given runs (newest per size), for BENCHMARKS.md's marked section."""
    out = []
    for result in results:
        m = result["machine"]
        out.append(f"### Size {result['size']}, {result['date']} (commit {result.get('commit', '?')})\n")
        out.append(f"{result['size_note']}: {result['data']['shipment_lines']:,} shipment lines over "
                   f"{len(result['data']['months'])} months, {result['data']['trade_points']:,} trade points, "
                   f"{result['data']['clients']:,} clients, {result['data']['skus']} SKUs. Machine: {m['cpus']} cores "
                   f"({m['cpu_model']}), {m['ram_bytes'] / GIB:.1f} GiB RAM, PostgreSQL {m['postgres_version']}, "
                   f"dbt {m['dbt_core']}, Airflow {m['apache_airflow']}. Series: {result['series_mode']}. "
                   f"Total {result['total_seconds'] / 60:.1f} min.\n")
        out.append("| figure | value | target | met |\n|---|---:|---|---|")
        for row in result["targets"]:
            value = _fmt(row["figure"], row["value"]) if row["value"] is not None else "not measured"
            met = {True: "met", False: "**not met**", None: "not measured"}[row["met"]]
            out.append(f"| {row['text']} | {value} | {row['target']} | {met} |")
        for name, value in result["figures"].items():
            if name not in {t.figure for t in TARGETS}:
                out.append(f"| {name} | {_fmt(name, value)} | | |")
        if result.get("plot"):
            out.append(f"\n![close time per month, {result['size']}]({result['plot']})\n")
        out.append("")
    return "\n".join(out)


def write_md(doc: Path, results_dir: Path) -> Path:
    """Rewrite the marked section of ``doc`` from the newest JSON of each size in ``results_dir``.

    A run that stopped early (``<size>-<date>.partial.json``, ``"complete": false``) is not a
    result: its figures are incomplete, so it never replaces a complete run here.
    """
    newest: dict[str, dict] = {}
    for path in sorted(results_dir.glob("*.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        if result.get("complete") is False:
            continue
        newest[result["size"]] = result
    order = [s for s in ("L", "M", "S", "XS") if s in newest]
    body = markdown([newest[s] for s in order]) if order else NO_RUN
    section = f"{MD_BEGIN}\n\n{body}\n{MD_END}"
    text = doc.read_text(encoding="utf-8") if doc.exists() else f"# Benchmarks\n\n{MD_BEGIN}\n{MD_END}\n"
    pattern = re.compile(re.escape(MD_BEGIN) + ".*?" + re.escape(MD_END), re.S)
    if not pattern.search(text):
        text = text.rstrip() + f"\n\n{MD_BEGIN}\n{MD_END}\n"
    doc.write_text(pattern.sub(lambda _: section, text), encoding="utf-8")
    return doc
