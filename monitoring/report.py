"""A model-health report as one self-contained HTML page (a string; the caller writes it):
the concerns, the drift table (drifted first), score drift, the label-free estimate beside
the backtest, and the realised series beside its estimates."""

from __future__ import annotations

from html import escape
from typing import Any

from monitoring.health import ModelHealth

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}"
    ".bad{background:#fde2e2}.bar{display:inline-block;height:9px;background:#c44}"
)


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _table(headers: list[str], rows: list[list[Any]], flagged: list[bool] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        css = ' class="bad"' if flagged and flagged[i] else ""
        cells = "".join(f"<td>{c if isinstance(c, Markup) else _num(c)}</td>" for c in row)
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


class Markup(str):
    """Cell text that is already HTML."""


def _bar(ratio: float) -> Markup:
    width = max(1, min(120, round(60 * ratio)))
    return Markup(f'<span class="bar" style="width:{width}px"></span> {ratio:.2f}')


def html_report(health: ModelHealth) -> str:
    """The report page of ``health``."""
    data = health.to_dict()
    parts = [
        f"<h1>Model health, snapshot {escape(str(data['snapshot_date']))}</h1>",
        "<p>"
        + ", ".join(f"{escape(k)}: {escape(v)}" for k, v in data["model_versions"].items())
        + f"; {data['rows']:,} rows; drift alpha {data['alpha']}, interval "
        f"{data['interval_level']:.0%}</p>",
        "<h2>Concerns</h2>",
        "<ul>" + "".join(f"<li>{escape(c)}</li>" for c in data["concerns"]) + "</ul>"
        if data["concerns"]
        else "<p>None: healthy.</p>",
    ]
    if data["notes"]:
        parts.append(
            "<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in data["notes"]) + "</ul>"
        )
    if data["missing_profiles"]:
        parts.append(
            "<p>No training profile (drift not measured): "
            + escape(", ".join(data["missing_profiles"]))
            + "</p>"
        )
    parts.append("<h2>Label-free estimate</h2>")
    parts.append(
        _table(
            ["label", "est. ROC-AUC", "low", "high", "backtest ROC-AUC", "est. PR-AUC", "est. ECE"],
            [
                [
                    label,
                    e["roc_auc"],
                    e["low"],
                    e["high"],
                    e["reference_roc_auc"],
                    (e.get("pr_auc") or {}).get("value"),
                    (e.get("ece") or {}).get("value"),
                ]
                for label, e in data["estimated"].items()
            ],
        )
    )
    parts.append("<h2>Feature drift (value / threshold)</h2>")
    drift = data["drift"]
    parts.append(
        _table(
            ["feature", "statistic", "value", "threshold", "value / threshold", "gain share"],
            [
                [
                    r["feature"],
                    r["statistic"],
                    r["value"],
                    r["threshold"],
                    _bar(r["value"] / r["threshold"] if r["threshold"] else 0.0),
                    r["gain_share"],
                ]
                for r in drift
            ],
            [r["drifted"] for r in drift],
        )
    )
    parts.append("<h2>Score drift</h2>")
    scores = data["score_drift"]
    parts.append(
        _table(
            ["score", "statistic", "value", "threshold"],
            [[r["score"], r["statistic"], r["value"], r["threshold"]] for r in scores],
            [r["drifted"] for r in scores],
        )
    )
    realised = [r for r in data["realised"] if r["group"] == "all"]
    parts.append("<h2>Realised vs estimated (matured snapshots)</h2>")
    parts.append(
        _table(
            [
                "snapshot",
                "label",
                "rows",
                "ROC-AUC",
                "estimate",
                "low",
                "high",
                "lift@10%",
                "Brier",
                "ECE",
            ],
            [
                [
                    r["snapshot_date"],
                    r["label"],
                    r["rows"],
                    r["roc_auc"],
                    (r["estimated"].get("roc_auc") or {}).get("value"),
                    (r["estimated"].get("roc_auc") or {}).get("low"),
                    (r["estimated"].get("roc_auc") or {}).get("high"),
                    r["lift_top_decile"],
                    r["brier"],
                    r["ece"],
                ]
                for r in realised
            ],
            [r["outside"] for r in realised],
        )
        if realised
        else "<p>No snapshot after the models' training data has matured labels yet.</p>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>churnlight model health"
        f"</title><style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n"
    )
