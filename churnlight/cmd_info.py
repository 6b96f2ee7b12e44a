"""`churnlight info`: the version, the installed extras, and where the state lives."""

from __future__ import annotations

from churnlight.cli import app, console, friendly_errors, print_json
from churnlight.options import JsonOption


@app.command("info")
@friendly_errors
def info(as_json: JsonOption = False) -> None:
    """Show the version, the installed extras and where the state lives (CHURNLIGHT_HOME).

    The state: the MLflow store, the artifacts, the lock files and the score history."""
    from features.installation import installation
    from features.settings import get_store_settings

    facts = installation(get_store_settings())
    if as_json:
        print_json(facts)
        return
    state = facts["state"]
    extras = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in facts["extras"].items())
    store = {True: "exists", False: "not created yet", None: "remote"}[state["store_exists"]]
    rows = [
        ("churnlight", f"{facts['version']} (Python {facts['python']}, {facts['platform']})"),
        ("extras", extras),
        ("home", f"{state['home']}  (from {state['home_from']})"),
        ("store", f"{state['tracking_uri']}  ({store})"),
        ("artifacts", state["artifact_location"] or "the tracking server's artifact root"),
        ("locks", state["locks"]),
        ("history", state["history"]),
    ]
    for name, value in rows:
        console.print(f"{name:<11}{value}", highlight=False, soft_wrap=True)
