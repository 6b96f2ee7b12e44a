"""`churnlight train`: train, evaluate and register the churn and expansion models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.metric_tables import fmt_metric, metric_table
from churnlight.options import JsonOption, SurvivalOption, TimeBudgetOption, TuneOption
from churnlight.progress import progress_bar, step_reporter
from features.errors import ConfigError

MODEL_NAMES = {
    "lightgbm": "  LightGBM",
    "additive": "  additive (splines)",
    "blend": "  blend",
    "scorecard": "health scorecard",
    "logreg": "logistic reg.",
}
"""Row names of the metrics table; the candidates are indented under the chosen model."""


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """KEY=VALUE pairs; values read as JSON when they parse (numbers, true/false)."""
    params: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {item!r} is not KEY=VALUE (e.g. --param num_leaves=31)")
        try:
            params[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            params[key.strip()] = value
    return params


@app.command("train")
@friendly_errors
def train(
    features: Annotated[
        Path,
        typer.Option(
            "--features",
            help="Feature table from `churnlight features`, or your own Parquet/CSV table "
            "(tabular mode, with --id and --label).",
        ),
    ],
    tune: TuneOption = None,
    time_budget: TimeBudgetOption = None,
    backtests: Annotated[
        int | None,
        typer.Option(
            "--backtests", min=1, help="Rolling-origin backtest windows (default: setting, 3)."
        ),
    ] = None,
    window: Annotated[
        int | None,
        typer.Option(
            "--window-snapshots", min=1, help="Snapshot dates per evaluation window (default 3)."
        ),
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id", help="Tabular mode: the id column.", show_default=False)
    ] = None,
    label_column: Annotated[
        str | None,
        typer.Option("--label", help="Tabular mode: the 0/1 label column.", show_default=False),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="A simulator's _truth folder for the oracle comparison "
            "(default: <source>/_truth when it exists).",
            show_default=False,
        ),
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param", help="LightGBM parameter KEY=VALUE (repeatable).", show_default=False
        ),
    ] = None,
    register: Annotated[
        bool,
        typer.Option(
            "--register/--no-register",
            help="Register both models and run the promotion gate (tabular mode never does).",
        ),
    ] = True,
    top: Annotated[int, typer.Option("--top", min=0, help="Accounts most at risk to list.")] = 10,
    survival: SurvivalOption = True,
    as_json: JsonOption = False,
) -> None:
    """Tune and fit the candidates of each label (LightGBM, an additive spline model, their
    blend), keep the one with the best out-of-time score, backtest it against two baselines,
    train the time-to-churn model (unless --no-survival), log an MLflow run, register the
    models and promote the ones that pass the gate."""
    from training.options import TrainOptions
    from training.retrain import train_and_publish
    from training.settings import get_training_settings

    if (id_column is None) != (label_column is None):
        raise ConfigError("tabular mode needs both --id and --label")
    settings = get_training_settings()
    options = TrainOptions.from_settings(
        settings,
        tune_trials=tune,
        tune_seconds=time_budget,
        backtests=backtests,
        window_snapshots=window,
        valid_snapshots=window,
        truth_dir=truth,
        params=parse_params(param),
        top_accounts=top,
        survival=survival,
    )
    with progress_bar(console, hidden=as_json) as bar:
        task = bar.add_task("reading the feature table", total=None)
        report = step_reporter(bar, task)

        job = train_and_publish(
            features,
            options,
            settings,
            register=register,
            id_column=id_column,
            label_column=label_column,
            progress=report,
            hook=lambda name: bar.update(task, description=name),
        )
    if as_json:
        print_json(job.payload)
        return
    print_report(job.payload)


def print_report(payload: dict[str, Any]) -> None:
    """The metrics table against both baselines, the registry outcome, the riskiest accounts."""
    facts = payload.get("feature_table", {})
    console.print(
        f"[green]trained[/green] on {facts.get('rows', 0):,} rows x {facts.get('features', 0)} "
        f"features (as of {facts.get('as_of', '-')}) in {payload['seconds'].get('total', 0):.0f} s"
    )
    for label, entry in payload["labels"].items():
        window = entry["window"]
        rows_facts = window.get("rows", {})
        models = {
            f"chosen: {entry.get('model_kind', 'lightgbm')}": entry["metrics"],
            **entry.get("candidates", {}),
            **entry["baselines"],
        }
        table = metric_table(
            f"{label}, {window['name']}: {window.get('dates')}, "
            f"{rows_facts.get('test', 0):,} rows, {rows_facts.get('test_positives', 0):,} positive",
            ["model"],
            (([MODEL_NAMES.get(model, model)], values) for model, values in models.items()),
        )
        console.print(table)
        backtests = ", ".join(
            f"{b['name']} {fmt_metric(b.get('roc_auc'))}" for b in entry.get("backtests", [])
        )
        oracle = entry["metrics"].get("oracle_auc")
        note = f"; oracle AUC {fmt_metric(oracle)}" if oracle is not None else ""
        console.print(f"  ROC-AUC by backtest window: {backtests}{note}")
        means = (entry.get("choice") or {}).get("mean_roc_auc") or {}
        if means:
            listed = ", ".join(f"{kind} {fmt_metric(auc)}" for kind, auc in means.items())
            reason = entry["choice"].get("reason")
            console.print(f"  mean ROC-AUC of the candidates: {listed}; chosen for {reason}")
        tuning = entry.get("tuning")
        if tuning:
            console.print(
                f"  tuning: {tuning['trials']} trial(s) in {tuning['seconds']:.0f} s"
                f"{_pruned(tuning)}, "
                f"validation ROC-AUC {fmt_metric(tuning['default_valid_auc'])} with the "
                f"defaults, {fmt_metric(tuning['best_valid_auc'])} tuned "
                f"(kept: {tuning['chosen']})"
            )
        for line in entry.get("notes") or []:
            console.print(f"  [yellow]note[/yellow]: {line}", highlight=False)
    for version in (payload.get("versions") or {}).values():
        verdict = "[green]promoted to champion[/green]" if version["promoted"] else "kept"
        console.print(
            f"{version['name']} version {version['version']}: {verdict} ({version['reason']})"
        )
    survival = payload.get("survival")
    if facts.get("survival_note"):
        console.print(f"  [yellow]note[/yellow]: {facts['survival_note']}", highlight=False)
    if survival:
        m = survival.get("metrics") or {}
        km = (survival.get("baselines") or {}).get("kaplan_meier") or {}
        auc = m.get("td_auc") or {}
        cal = m.get("calibration_max") or {}
        console.print(
            f"churn_time (survival), backtest {survival['window']['cut']} to "
            f"{survival['window']['test_end']}: IBS {fmt_metric(m.get('ibs'))} (Kaplan-Meier "
            f"{fmt_metric(km.get('ibs'))}), Uno's C {fmt_metric(m.get('uno_c'))}, td-AUC "
            f"90/180/365 {fmt_metric(auc.get('90'))}/{fmt_metric(auc.get('180'))}/"
            f"{fmt_metric(auc.get('365'))}, worst decile calibration 90/180 "
            f"{fmt_metric(cal.get('90'))}/{fmt_metric(cal.get('180'))}"
        )
        for line in survival.get("notes") or []:
            console.print(f"  [yellow]note[/yellow]: {line}", highlight=False)
    if payload.get("run_id"):
        console.print(f"MLflow run {payload['run_id']} in {payload.get('tracking_uri', '')}")
    top = payload.get("top_risk") or []
    if top:
        table = Table(
            title=f"{len(top)} accounts most at risk on {top[0]['snapshot_date']}",
            title_justify="left",
        )
        for column in ("#", "account", "segment", "MRR", "churn prob.", "main reason", "context"):
            table.add_column(
                column, justify="right" if column in ("#", "MRR", "churn prob.") else "left"
            )
        for row in top:
            mrr = "-" if row["mrr"] is None else f"${row['mrr']:,.0f}"
            main = row.get("main_reason")
            table.add_row(
                str(row["rank"]),
                row["account_id"],
                row.get("segment") or "-",
                mrr,
                f"{row['churn_probability']:.0%}",
                main["reason"] if main else "-",
                "; ".join(row.get("context") or []) or "-",
            )
        console.print(table)


def _pruned(tuning: dict[str, Any]) -> str:
    """' (+N stopped early)' when the search pruned trials."""
    pruned = tuning.get("pruned") or 0
    return f" (+{pruned} stopped early)" if pruned else ""
