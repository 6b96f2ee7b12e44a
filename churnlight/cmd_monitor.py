"""`churnlight monitor`: drift, label-free and realised performance of the champions on a
feature table's latest snapshot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.options import JsonOption


@app.command("monitor")
@friendly_errors
def monitor(
    features: Annotated[
        Path,
        typer.Option(
            "--features",
            help="Feature table whose latest snapshot is checked (written by `churnlight "
            "features`, or by pandas, DuckDB or Spark); its earlier snapshots with matured "
            "labels give the realised performance.",
        ),
    ],
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Write an HTML report here.", show_default=False),
    ] = None,
    rows: Annotated[int, typer.Option("--rows", min=1, help="Drift rows shown in the table.")] = 15,
    log_run: Annotated[
        bool,
        typer.Option(
            "--log-run",
            help="Log the report (JSON, HTML, drift and performance plots, metrics) to a new "
            "MLflow run in the models' store.",
        ),
    ] = False,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            help="Log the report to this existing MLflow run instead (implies --log-run).",
            show_default=False,
        ),
    ] = None,
    run_name: Annotated[
        str | None,
        typer.Option(
            "--run-name",
            help="Name of the new run (default: 'monitor <snapshot date>').",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check the champion models' health on a feature snapshot: which features drifted
    (ranked by drift x share of the model's gain), the expected ROC-AUC without labels, and
    the realised ROC-AUC of matured snapshots beside its estimate."""
    from monitoring.report import html_report
    from serving.model_health import file_health
    from serving.settings import load_settings

    health = file_health(load_settings(), features)
    if report is not None:
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(html_report(health))
    logged = None
    if log_run or run_id is not None:
        from training.health_run import log_health
        from training.settings import get_training_settings
        from training.store import open_store

        store = open_store(get_training_settings(), create=False)
        logged = log_health(store, health, run_id=run_id, run_name=run_name)
    if as_json:
        print_json(
            health.to_dict()
            | {"report": None if report is None else str(report), "mlflow_run_id": logged}
        )
        return
    versions = ", ".join(f"{k} {v}" for k, v in health.model_versions.items())
    console.print(
        f"[bold]model health[/bold] of snapshot {health.snapshot_date} ({health.rows:,} rows; "
        f"{escape(versions)})",
        highlight=False,
        soft_wrap=True,
    )
    table = Table(title="estimated performance (no labels needed)")
    for column in ("label", "ROC-AUC", "95% interval", "backtest", "PR-AUC", "ECE"):
        table.add_column(column, justify="left" if column == "label" else "right")
    for label, e in health.estimated_dict().items():
        table.add_row(
            label,
            f"{e['roc_auc']:.3f}" if e["roc_auc"] is not None else "-",
            f"{e['low']:.3f}-{e['high']:.3f}" if e["low"] is not None else "-",
            f"{e['reference_roc_auc']:.3f}" if e["reference_roc_auc"] is not None else "-",
            f"{e['pr_auc']['value']:.3f}" if "pr_auc" in e else "-",
            f"{e['ece']['value']:.3f}" if "ece" in e else "-",
        )
    console.print(table)
    drift = Table(title=f"feature drift (top {rows}, drifted first)")
    for column in ("feature", "statistic", "value", "threshold", "drifted", "gain share"):
        drift.add_column(column, justify="left" if column in ("feature", "statistic") else "right")
    for r in health.drift[: rows * 3]:
        if r.statistic == "js":
            continue  # PSI and the null share carry the table; JS is in --json and the report
        drift.add_row(
            r.feature,
            r.statistic,
            f"{r.value:.4f}",
            f"{r.threshold:.4f}",
            "[red]yes[/red]" if r.drifted else "no",
            "-" if r.gain_share is None else f"{r.gain_share:.1%}",
        )
    console.print(drift)
    matured = [r for r in health.realised if r.group == "all"]
    if matured:
        real = Table(title="realised vs estimated ROC-AUC (matured snapshots)")
        for column in (
            "snapshot",
            "label",
            "scores from",
            "rows",
            "realised",
            "estimate",
            "lift@10%",
            "Brier",
        ):
            real.add_column(column, justify="right")
        for m in matured:
            est = m.estimated.metrics.get("roc_auc")
            real.add_row(
                m.snapshot_date,
                m.label,
                f"{m.scores_from} ({m.model_version})" if m.model_version else m.scores_from,
                f"{m.rows:,}",
                "-" if m.roc_auc is None else f"{m.roc_auc:.3f}",
                "-" if est is None else f"{est.value:.3f} ({est.low:.3f}-{est.high:.3f})",
                "-" if m.lift_top_decile is None else f"{m.lift_top_decile:.2f}",
                "-" if m.brier is None else f"{m.brier:.3f}",
            )
        console.print(real)
    for label in health.missing_profiles:
        console.print(
            f"[yellow]note:[/yellow] {label} has no training profile (trained before profiles "
            "existed): retrain to measure its drift",
            highlight=False,
        )
    for note in health.notes:
        console.print(f"[yellow]note:[/yellow] {escape(note)}", highlight=False, soft_wrap=True)
    if health.concerns:
        for concern in health.concerns:
            console.print(f"[red]concern:[/red] {escape(concern)}", highlight=False, soft_wrap=True)
    else:
        console.print("[green]healthy[/green]: no drift that matters, estimate in line")
    if report is not None:
        console.print(f"report: {report}", highlight=False, soft_wrap=True)
    if logged is not None:
        console.print(f"MLflow run: {logged}", highlight=False, soft_wrap=True)
