"""`churnlight plays`: which play works, for whom — effects estimated from the play runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.options import JsonOption
from churnlight.progress import progress_bar, step_reporter


def _points(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.1f}"


@app.command("plays")
@friendly_errors
def plays(
    source: Annotated[
        Path,
        typer.Option(
            "--source", help="Source folder or DuckDB file whose activities record plays."
        ),
    ],
    features: Annotated[
        Path | None,
        typer.Option(
            "--features",
            help="Feature table of the source from `churnlight features` (default: built now).",
            show_default=False,
        ),
    ] = None,
    plot: Annotated[
        Path, typer.Option("--plot", help="Where to write the effects plot (PNG).")
    ] = Path("plays.png"),
    segments: Annotated[
        bool,
        typer.Option("--segments/--overall", help="Print every segment and stage, or overall."),
    ] = False,
    follow_up: Annotated[
        bool,
        typer.Option(
            "--follow-up",
            help="Report, per play and per CSM, how often the recommended play was run within "
            "30 days and what happened after, against similar accounts where it was not "
            "(needs registered churn and expansion champions; registers nothing).",
        ),
    ] = False,
    register: Annotated[
        bool,
        typer.Option("--register/--no-register", help="Register the effects as the champion."),
    ] = True,
    as_json: JsonOption = False,
) -> None:
    """Estimate each play's effect on churn_180d and expand_180d (on the accounts that got
    it: doubly robust, 95% intervals clustered by account), overall, per segment and per
    lifecycle stage; log it to MLflow and register it (churnlight-effects@champion). Plays
    with too few runs or no comparable accounts are "not enough evidence"; an effect whose
    negative control fails (the accounts that got the play already differed, a month
    before it, from those they are compared with) is "confounded" and not served."""
    from serving.playbooks import load_playbooks
    from serving.settings import get_serving_settings
    from training.effects.job import estimate_play_effects
    from training.settings import get_training_settings

    library = load_playbooks(get_serving_settings().playbooks_path)
    if follow_up:
        _follow_up(source, features, library.ids, as_json)
        return
    with progress_bar(console, hidden=as_json) as bar:
        task = bar.add_task("building the feature table", total=None)
        report = step_reporter(bar, task)

        job = estimate_play_effects(
            source,
            library.ids,
            get_training_settings(),
            features=features,
            register=register,
            plot_path=plot,
            progress=report,
        )
    if as_json:
        print_json(job.payload())
        return
    table = Table(title="Play effects on the accounts that got the play (points of probability)")
    for name in ("play", "label", "segment", "effect", "95% interval", "runs", "evidence"):
        table.add_column(name, justify="right" if name in ("effect", "runs") else "left")
    for row in job.result.rows:
        if not segments and row["segment"] != "all":
            continue
        interval = (
            ""
            if row["effect"] is None
            else f"{_points(row['ci_low'])} .. {_points(row['ci_high'])}"
        )
        evidence = (
            row["evidence"] if row["reason"] is None else f"{row['evidence']}: {row['reason']}"
        )
        table.add_row(
            row["play"], row["label"], row["segment"], _points(row["effect"]), interval,
            str(row["n_treated"]), evidence,
        )  # fmt: skip
    console.print(table)
    pub = job.publication
    where = f"registered {pub.name}/{pub.version} (champion)" if pub.version else "not registered"
    console.print(f"MLflow run {pub.run_id}; {where}; plot: {plot}", highlight=False)


def _follow_up(source: Path, features: Path | None, plays: list[str], as_json: bool) -> None:
    import tempfile

    from serving.recommendations import recommended_plays
    from serving.settings import get_serving_settings
    from training.effects.job import feature_table_of, follow_up_plays

    with (
        progress_bar(console, hidden=as_json) as bar,
        tempfile.TemporaryDirectory(prefix="churnlight-follow-up-") as tmp,
    ):
        task = bar.add_task("building the feature table", total=None)
        report = step_reporter(bar, task)
        table = features or feature_table_of(source, Path(tmp), report)
        recs = recommended_plays(table, get_serving_settings(), source, report)
        bar.update(task, description="comparing followed and not followed", total=None)
        result = follow_up_plays(source, table, recs.table, recs.basis, plays)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(f"Recommendations: {result.basis}", highlight=False, soft_wrap=True)
    out = Table(title="Recommended plays: followed within 30 days, and what happened after")
    for name in ("play", "label", "recommended", "followed", "rate", "after: followed",
                 "not followed", "adjusted effect (95%)", "evidence"):  # fmt: skip
        out.add_column(name)
    for row in result.plays:
        adjusted = (
            ""
            if row["effect"] is None
            else f"{_points(row['effect'])} ({_points(row['ci_low'])} .. {_points(row['ci_high'])})"
        )
        out.add_row(
            row["play"], row["label"], str(row["recommended"]), str(row["followed"]),
            _share(row["follow_rate"]), _share(row["rate_followed"]),
            _share(row["rate_not_followed"]), adjusted,
            row["evidence"] + ("" if row["reason"] is None else f": {row['reason']}"),
        )  # fmt: skip
    console.print(out)
    per_csm = Table(title="Per CSM (raw rates: too few rows for an adjusted comparison)")
    keys = [k for k in (result.csms[0] if result.csms else {}) if k not in ("play", "csm_id")]
    for name in ("play", "csm_id", *keys):
        per_csm.add_column(name)
    for entry in result.csms:
        per_csm.add_row(
            entry["play"],
            entry["csm_id"],
            *(str(entry[k]) if isinstance(entry[k], int) else _share(entry[k]) for k in keys),
        )
    console.print(per_csm)


def _share(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.1f}%"
