"""Airflow DAG: retrain churnlight monthly, then score the latest snapshot, alert on failure.

Copy this file into your DAGs folder and adjust ``DEFAULT_PARAMS`` (or override them when
triggering a run). Tasks, in order:

1. ``retrain``: ``churnlight retrain --source SRC``: features as of the source's latest data,
   train, gate, promote or keep. It prints one JSON line (the summary) on stdout, which goes
   to XCom and to ``<home>/logs/retrain-<ts>.json``. Exit 0: promoted or kept; 75: another
   train or retrain holds the registry lock; 1: failed. In every non-zero case the registry
   and the champions are as they were, so a retry is safe.
2. ``read_summary``: reads that JSON and fails unless its ``status`` is ``promoted`` or
   ``kept``; logs what was promoted and why the others were kept.
3. ``latest_features``: ``churnlight features --latest-only``: the snapshot to score (one row
   per active account as of the source's latest data; the retrain's feature table is
   temporary).
4. ``score``: ``churnlight score``: every account with the champion models (whichever the gate
   left in place), drivers and playbooks, written atomically to ``<home>/out/``.

A running ``churnlight serve`` picks up the promoted champions and the new snapshot by itself
(``CHURNLIGHT_REFRESH_SECONDS``, default 60): no task reloads it. ``score`` records the scores in
the history store and sends the alerts of ``CHURNLIGHT_ALERTS_FILE``.

Any task that fails (after its retries) calls ``alert_on_failure``: a message with the task,
the run, the meaning of the exit code and the log URL, posted to the Slack-compatible webhook
in ``CHURNLIGHT_ALERT_WEBHOOK`` (environment of the Airflow worker) and always logged.

Works with Airflow 2.7+ and 3.x (the operators moved to ``airflow.providers.standard``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import urllib.request
from datetime import datetime, timedelta
from typing import Any

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk import DAG
except ImportError:  # Airflow 2.7+
    from airflow import DAG
    from airflow.operators.bash import BashOperator
    from airflow.operators.python import PythonOperator

log = logging.getLogger("churnlight.dag")

DAG_ID = "churnlight_retrain"
EXIT_LOCKED = 75
"""``churnlight retrain``'s exit code when another train or retrain holds the lock."""
DONE_STATUSES = ("promoted", "kept")
DEFAULT_PARAMS = {
    "home": "/srv/churnlight",  # checkout with .venv/, state/, logs/, out/, tmp/
    "source": "/data/warehouse-export",  # folder of <table>.parquet / .csv, or a DuckDB file
}
ENV = {
    # churnlight's state (MLflow store, artifacts, lock files) shared by retrain and score.
    "CHURNLIGHT_HOME": "{{ params.home }}/state",
}

RETRAIN_COMMAND = (
    "set -euo pipefail; cd {{ params.home }}; mkdir -p logs tmp; "
    ".venv/bin/churnlight retrain --source {{ params.source }} --work-dir tmp "
    "| tee logs/retrain-{{ ts_nodash }}.json"
)
FEATURES_COMMAND = (
    "set -euo pipefail; cd {{ params.home }}; mkdir -p out; "
    ".venv/bin/churnlight features --source {{ params.source }} "
    "--out out/latest-{{ ts_nodash }}.parquet --latest-only"
)
SCORE_COMMAND = (
    "set -euo pipefail; cd {{ params.home }}; "
    ".venv/bin/churnlight score --features out/latest-{{ ts_nodash }}.parquet "
    "--out out/scores-{{ ts_nodash }}.parquet --json"
)


def parse_retrain_summary(stdout_line: str | None) -> dict[str, Any]:
    """The retrain's JSON summary; raises ``ValueError`` unless it finished (promoted/kept)."""
    if not stdout_line:
        raise ValueError("churnlight retrain printed no summary (its last stdout line is empty)")
    try:
        summary = json.loads(stdout_line)
    except json.JSONDecodeError as err:
        raise ValueError(f"churnlight retrain's last line is not JSON: {stdout_line!r}") from err
    if not isinstance(summary, dict):
        raise ValueError(f"churnlight retrain's summary is not a JSON object: {stdout_line!r}")
    status = summary.get("status")
    if status not in DONE_STATUSES:
        raise ValueError(
            f"churnlight retrain ended with status {status!r}: {summary.get('error', 'no error')}"
        )
    return summary


def describe_summary(summary: dict[str, Any]) -> str:
    """One line for the logs: what was promoted, what was kept and why."""
    parts = [f"retrain as of {summary.get('as_of')}: {summary['status']}"]
    promoted = summary.get("promoted") or []
    if promoted:
        parts.append("promoted " + ", ".join(promoted))
    for label, reason in (summary.get("kept") or {}).items():
        parts.append(f"kept the champion of {label} ({reason})")
    return "; ".join(parts)


def read_summary(ti: Any) -> dict[str, Any]:
    """Task ``read_summary``: the retrain's summary from XCom, checked and logged."""
    summary = parse_retrain_summary(ti.xcom_pull(task_ids="retrain"))
    log.info("%s", describe_summary(summary))
    return summary


def explain_exit(error: BaseException | str | None) -> str:
    """What a failed task's exit code means for the registry."""
    text = str(error or "")
    match = re.search(r"exit code (\d+)", text)
    code = int(match.group(1)) if match else None
    if code == EXIT_LOCKED:
        return (
            "another churnlight train or retrain held the registry lock; nothing changed "
            "(raise the schedule interval or set CHURNLIGHT_LOCK_TIMEOUT_SECONDS)"
        )
    if code == 1:
        return "churnlight reported an error (see the log); registry and champions are unchanged"
    return text or "unknown error"


def alert_message(context: dict[str, Any]) -> str:
    """The alert text of a failed task instance."""
    ti = context.get("task_instance") or context.get("ti")
    task_id = getattr(ti, "task_id", "?")
    dag_id = getattr(ti, "dag_id", DAG_ID)
    run_id = context.get("run_id", "?")
    url = getattr(ti, "log_url", "")
    return (
        f"churnlight: task {task_id} of {dag_id} failed (run {run_id}): "
        f"{explain_exit(context.get('exception'))}. Log: {url}"
    )


def alert_on_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback``: log the alert and post it to ``CHURNLIGHT_ALERT_WEBHOOK``."""
    message = alert_message(context)
    log.error("%s", message)
    webhook = os.environ.get("CHURNLIGHT_ALERT_WEBHOOK")
    if not webhook:
        return
    request = urllib.request.Request(
        webhook,
        data=json.dumps({"text": message}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except OSError as err:  # an alert that cannot be sent must not hide the failure
        log.error("could not post the alert to the webhook: %s", err)


with DAG(
    dag_id=DAG_ID,
    description="Retrain churnlight's models monthly, then score the latest snapshot",
    schedule="15 3 2 * *",  # 03:15 on the 2nd: monthly snapshots land on the 1st
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,  # the registry lock enforces this too
    params=DEFAULT_PARAMS,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=30),
        "on_failure_callback": alert_on_failure,
    },
    tags=["churnlight"],
) as dag:
    retrain = BashOperator(
        task_id="retrain",
        bash_command=RETRAIN_COMMAND,
        env=ENV,
        append_env=True,
        do_xcom_push=True,  # the last stdout line, the JSON summary
        execution_timeout=timedelta(hours=3),
    )
    check = PythonOperator(task_id="read_summary", python_callable=read_summary)
    latest_features = BashOperator(
        task_id="latest_features",
        bash_command=FEATURES_COMMAND,
        env=ENV,
        append_env=True,
        do_xcom_push=False,
        execution_timeout=timedelta(hours=1),
    )
    score = BashOperator(
        task_id="score",
        bash_command=SCORE_COMMAND,
        env=ENV,
        append_env=True,
        do_xcom_push=False,
        execution_timeout=timedelta(hours=1),
    )

    retrain >> check >> latest_features >> score
