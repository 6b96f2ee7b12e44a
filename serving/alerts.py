"""Webhook alerts: the subscriptions file and the events of a new snapshot (pure).

Subscriptions live in a YAML file (``CHURNLIGHT_ALERTS_FILE``), validated on load; an error
names the file and the key (``subscriptions[1].min_jump: ...``) and stops ``serve`` or
``score`` at start::

    subscriptions:
      - url: https://hooks.example.com/churn
        secret_env: CS_HOOK_SECRET   # env var holding the signing secret
        events: [tier_entered, risk_jump, expansion_ready, model_health]
        min_tier: high               # tier_entered: entering this tier or a higher one
        min_jump: 0.10               # risk_jump: churn probability up by >= 0.10
        min_expansion: 0.40          # expansion_ready: expansion probability >= 0.40
        segments: [mid_market]       # optional filters (the account's, at the new snapshot)
        csm_ids: [csm07]
        format: json                 # or slack

Events of an account at a new snapshot, against its latest earlier point in the history:

- ``tier_entered``: its tier is ``min_tier`` or higher and was lower (or it has no earlier
  point: an account's first snapshot in history fires);
- ``risk_jump``: churn probability rose by ``min_jump`` or more (needs an earlier point);
- ``expansion_ready``: expansion probability is ``min_expansion`` or more and was below it
  (or it has no earlier point).

One event is about the models, not an account: ``model_health`` fires when the served
snapshot's health (``monitoring.health``) has a condition of ``MODEL_CODES``; its id hashes
the snapshot date, the model versions and the conditions' (code, subject) pairs, so a
refresh that finds the same conditions is not sent again and a new condition is.

An event's id is stable: a hash of the kind, account, snapshot date and both model versions,
so re-scoring the same snapshot with the same models gives the same ids (the delivery ledger
then sends each at most once per subscription). Delivery is ``serving.delivery``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from serving.errors import AlertsConfigError
from serving.scoring import TIERS

Kind = Literal["tier_entered", "risk_jump", "expansion_ready", "model_health"]
KINDS: tuple[str, ...] = ("tier_entered", "risk_jump", "expansion_ready", "model_health")
ACCOUNT_KINDS: tuple[str, ...] = ("tier_entered", "risk_jump", "expansion_ready")
MODEL_CODES: tuple[str, ...] = ("feature_drift", "estimate_drop", "estimate_gap")
"""The model-health conditions a ``model_health`` event reports (``monitoring.health``'s
concern codes): drift over threshold on a feature that carries gain, an estimated ROC-AUC
drop, a realised ROC-AUC outside its estimate. Score drift alone is not an alert (it moves
with the book's mix; docs/monitoring.md)."""


class Subscription(BaseModel):
    """One webhook and the events it wants."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="stable name (the delivery ledger's key); default: a hash of the url",
    )
    url: str = Field(pattern=r"^https?://\S+$", description="where events are POSTed")
    secret_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding the HMAC-SHA256 signing secret",
    )
    events: list[Kind] = Field(min_length=1)
    min_tier: Literal["medium", "high", "critical"] = "high"
    min_jump: float = Field(0.10, gt=0, le=1)
    min_expansion: float = Field(0.40, gt=0, lt=1)
    segments: list[str] = Field(default_factory=list)
    csm_ids: list[str] = Field(default_factory=list)
    format: Literal["json", "slack"] = "json"

    @field_validator("events")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("lists an event kind twice")
        return value

    @property
    def key(self) -> str:
        """The ledger's name of this subscription."""
        return self.id or "url-" + hashlib.sha256(self.url.encode()).hexdigest()[:12]

    def wants(self, point: Mapping[str, Any]) -> bool:
        """Whether the account passes the segment and CSM filters."""
        if self.segments and point.get("segment") not in self.segments:
            return False
        return not (self.csm_ids and point.get("csm_id") not in self.csm_ids)


class AlertsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    subscriptions: list[Subscription] = Field(default_factory=list)


@dataclass(frozen=True)
class AlertsConfig:
    path: str
    subscriptions: tuple[Subscription, ...]
    secrets: dict[str, str | None] = field(default_factory=dict)
    """subscription key -> signing secret (None: unsigned)."""


def load_alerts(path: str | Path, secrets: Mapping[str, str | None]) -> AlertsConfig:
    """Read and validate the subscriptions; ``secrets`` maps each ``secret_env`` name to its
    value (the caller reads the environment). A named variable that is unset is an error."""
    file = Path(path)
    try:
        text = file.read_text()
    except OSError as err:
        raise AlertsConfigError(f"{file}: cannot read the alerts file ({err.strerror})") from err
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise AlertsConfigError(f"{file}: YAML syntax error{where}") from err
    if not isinstance(data, dict):
        raise AlertsConfigError(
            f"{file}: (top level): expected a mapping with 'subscriptions', "
            f"got {type(data).__name__}"
        )
    try:
        parsed = AlertsFile.model_validate(data)
    except ValidationError as err:
        problems = [
            f"{_key(e['loc'])}: {e['msg'].removeprefix('Value error, ')}" for e in err.errors()
        ]
        raise AlertsConfigError(f"{file}: " + "; ".join(problems)) from err
    problems = []
    seen: dict[str, int] = {}
    resolved: dict[str, str | None] = {}
    for i, sub in enumerate(parsed.subscriptions):
        if sub.key in seen:
            problems.append(
                f"subscriptions[{i}].id: {sub.key!r} is also subscriptions[{seen[sub.key]}]; "
                "give each subscription its own id"
            )
        seen.setdefault(sub.key, i)
        secret = None
        if sub.secret_env:
            secret = secrets.get(sub.secret_env)
            if not secret:
                problems.append(
                    f"subscriptions[{i}].secret_env: environment variable {sub.secret_env} is "
                    "not set; set it to the signing secret, or remove secret_env to send "
                    "unsigned"
                )
        resolved[sub.key] = secret
    if problems:
        raise AlertsConfigError(f"{file}: " + "; ".join(problems))
    return AlertsConfig(str(file), tuple(parsed.subscriptions), resolved)


def _key(loc: Sequence[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


# ---- events ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    event_id: str
    kind: str
    account_id: str
    snapshot_date: str
    reason: str

    def body(self, account: Mapping[str, Any]) -> dict[str, Any]:
        """The JSON POSTed for this event, with the account's record."""
        return {
            "event_id": self.event_id,
            "kind": self.kind,
            "account_id": self.account_id,
            "snapshot_date": self.snapshot_date,
            "reason": self.reason,
            "account": dict(account),
        }


def event_id(
    kind: str, account_id: str, snapshot_date: str, churn_version: str, expansion_version: str
) -> str:
    """Stable: the same account, snapshot, kind and model versions give the same id."""
    key = "\x1f".join((kind, account_id, snapshot_date, churn_version, expansion_version))
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def events_for(
    subscription: Subscription,
    current: Sequence[Mapping[str, Any]],
    previous: Mapping[str, Mapping[str, Any]],
) -> list[Event]:
    """The events ``subscription`` gets for the accounts of one new snapshot.

    ``current``: per account, its point at the new snapshot (``account_id``,
    ``snapshot_date``, ``churn_probability``, ``expansion_probability``, ``risk_tier``,
    ``segment``, ``csm_id``, both model versions, optional ``main_reason``); ``previous``:
    account_id -> its latest point before that snapshot (absent: first snapshot)."""
    floor = TIERS.index(subscription.min_tier)
    out: list[Event] = []
    for point in current:
        if not subscription.wants(point):
            continue
        account = str(point["account_id"])
        before = previous.get(account)
        snapshot = str(point["snapshot_date"])
        versions = (str(point["churn_model_version"]), str(point["expansion_model_version"]))
        note = _model_note(before, versions)
        found: list[tuple[str, str]] = []
        add = found.append
        tier = str(point["risk_tier"])
        churn = float(point["churn_probability"])
        if "tier_entered" in subscription.events and TIERS.index(tier) >= floor:
            was = str(before["risk_tier"]) if before else None
            if was is None or TIERS.index(was) < floor:
                why = f"; main reason: {point['main_reason']}" if point.get("main_reason") else ""
                since = f"was {was}" if was else "its first snapshot in history"
                add(("tier_entered", f"entered risk tier {tier} ({since}){why}"))
        if "risk_jump" in subscription.events and before is not None:
            jump = churn - float(before["churn_probability"])
            if jump >= subscription.min_jump - 1e-12:
                add(
                    (
                        "risk_jump",
                        f"churn probability rose from {float(before['churn_probability']):.2f} "
                        f"to {churn:.2f} (+{jump:.2f}) since {before['snapshot_date']}",
                    )
                )
        expansion = float(point["expansion_probability"])
        if "expansion_ready" in subscription.events and expansion >= subscription.min_expansion:
            was_p = float(before["expansion_probability"]) if before else None
            if was_p is None or was_p < subscription.min_expansion:
                since = f"was {was_p:.2f}" if was_p is not None else "its first snapshot in history"
                add(
                    (
                        "expansion_ready",
                        f"expansion probability {expansion:.2f} reached "
                        f"{subscription.min_expansion:.2f} ({since})",
                    )
                )
        out.extend(
            Event(event_id(kind, account, snapshot, *versions), kind, account, snapshot, why + note)
            for kind, why in found
        )
    return out


def _model_note(before: Mapping[str, Any] | None, versions: tuple[str, str]) -> str:
    if before is None:
        return ""
    was = (str(before["churn_model_version"]), str(before["expansion_model_version"]))
    if was == versions:
        return ""
    return f" [models changed: {was[0]} / {was[1]} -> {versions[0]} / {versions[1]}]"


@dataclass(frozen=True)
class ModelEvent:
    """A ``model_health`` event: the served models' health has conditions worth a look."""

    event_id: str
    snapshot_date: str
    model_versions: dict[str, str]
    conditions: tuple[dict[str, str], ...]
    """Each ``{"code", "subject", "message"}`` (``monitoring.health.Concern``)."""
    healthy_url: str = "/v1/model/health"

    def body(self) -> dict[str, Any]:
        """The JSON POSTed for this event."""
        return {
            "event_id": self.event_id,
            "kind": "model_health",
            "snapshot_date": self.snapshot_date,
            "model_versions": dict(self.model_versions),
            "reason": "; ".join(c["message"] for c in self.conditions),
            "conditions": [dict(c) for c in self.conditions],
            "details": self.healthy_url,
        }


def model_event(
    snapshot_date: str, model_versions: Mapping[str, str], conditions: Sequence[Mapping[str, str]]
) -> ModelEvent | None:
    """The ``model_health`` event of a snapshot's health conditions (None: none of
    ``MODEL_CODES``). The id is a hash of the snapshot date, the model versions and the
    sorted (code, subject) pairs: the same conditions give the same id whatever their
    numbers, so a refresh does not re-send them; a new or cleared condition changes it."""
    kept = tuple(
        sorted(
            (
                {k: str(c[k]) for k in ("code", "subject", "message")}
                for c in conditions
                if c["code"] in MODEL_CODES
            ),
            key=lambda c: (MODEL_CODES.index(c["code"]), c["subject"]),
        )
    )
    if not kept:
        return None
    versions = sorted((str(k), str(v)) for k, v in model_versions.items())
    key = "\x1f".join(
        ["model_health", snapshot_date]
        + [f"{k}={v}" for k, v in versions]
        + [f"{c['code']}:{c['subject']}" for c in kept]
    )
    event = hashlib.sha256(key.encode()).hexdigest()[:32]
    return ModelEvent(event, snapshot_date, dict(versions), kept)


def slack_body(event: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack-compatible message of an event body."""
    title = event["kind"].replace("_", " ")
    if event["kind"] == "model_health":
        versions = ", ".join(f"{k} {v}" for k, v in event["model_versions"].items())
        return {
            "text": f"*{title}* of snapshot {event['snapshot_date']} ({versions}): "
            f"{event['reason']}",
            "event_id": event["event_id"],
        }
    account = event.get("account") or {}
    mrr = account.get("mrr")
    money = f", MRR {mrr:,.0f}" if isinstance(mrr, int | float) else ""
    return {
        "text": f"*{title}*: account {event['account_id']} ({event['snapshot_date']}{money}): "
        f"{event['reason']}",
        "event_id": event["event_id"],
    }
