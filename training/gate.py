"""The promotion gate: whether a challenger becomes champion, and why.

The current champion (read only) meets the challenger out of time (``training.contest``): its
registered model and the challenger's last-window fit, on the newest matured labels neither
trained on. When there are none (a retrain with no newly matured labels) or too few, it is
scored on the challenger's whole last backtest window instead (``training.champion_refit``),
and the decision says the contest was not held and why. The challenger must also be
calibrated, and its training
data must not be broken against the champion's profile (``training.data_guards``: a feature
the champion relies on all null or constant, drift on most of its gain). ``decide`` is the
rule (pure); ``gate`` gathers its inputs from the registry. The survival model's decision
follows the same rule on its own metrics (``training.survival_publish``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from training.champion_refit import score_champion_on_fold
from training.contest import Contest, out_of_time_contest
from training.data_guards import data_findings
from training.evaluate import MODEL
from training.metrics import roc_auc
from training.results import TrainingResult
from training.store import Store
from training.survival_publish import survival_decision
from training.versions import champion_version, load_version_bundle

if TYPE_CHECKING:
    from training.settings import TrainingSettings


@dataclass
class GateDecision:
    """Whether a challenger becomes champion, and why."""

    label: str
    model_name: str
    promote: bool
    reason: str
    challenger_auc: float | None
    challenger_ece: float | None
    champion_version: str | None = None
    champion_auc: float | None = None
    champion_scored_as: str | None = None
    """'registered model': the champion's own model, which never saw the window's labels;
    'recipe refit': its recipe refit before the window's cutoff (its model had trained on
    labels that overlap the window)."""
    window: str | None = None
    tolerance: float = 0.0
    ece_bound: float = 1.0
    """The configured bound, raised to the window's ECE noise floor when that is higher."""
    data_findings: list[dict[str, Any]] = field(default_factory=list)
    """What the data guards found broken in the challenger's training data (each refuses
    promotion; ``training.data_guards``)."""
    contest: dict[str, Any] | None = None
    """The out-of-time contest (``training.contest.Contest``; None: no champion). When held,
    ``champion_auc`` / ``challenger_auc`` are its numbers and ``window`` says so."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(
    challenger_auc: float | None,
    challenger_ece: float | None,
    champion_auc: float | None,
    has_champion: bool,
    tolerance: float,
    ece_bound: float,
) -> tuple[bool, str]:
    """The promotion rule (pure). With no champion the challenger becomes champion; else it
    must have AUC >= champion AUC - tolerance on the same window and ECE <= bound."""
    if not has_champion:
        return True, "no champion yet: the first version becomes champion"
    if challenger_auc is None or challenger_ece is None:
        return False, "the challenger has no ROC-AUC or ECE on its last backtest window"
    failures = []
    if champion_auc is not None and challenger_auc < champion_auc - tolerance:
        failures.append(
            f"ROC-AUC {challenger_auc:.4f} is below the champion's {champion_auc:.4f} minus "
            f"the tolerance {tolerance:.4f} on the same window"
        )
    if challenger_ece > ece_bound:
        failures.append(
            f"expected calibration error {challenger_ece:.4f} is above the bound {ece_bound:.4f}"
        )
    if failures:
        return False, "; ".join(failures)
    if champion_auc is None:
        return True, "the champion cannot be scored on the window; calibration within bound"
    return True, (
        f"ROC-AUC {challenger_auc:.4f} >= champion's {champion_auc:.4f} - {tolerance:.4f}, "
        f"ECE {challenger_ece:.4f} <= {ece_bound:.4f}"
    )


def gate(
    store: Store, settings: TrainingSettings, result: TrainingResult
) -> dict[str, GateDecision]:
    """Decisions for every label of a temporal ``result`` (read-only on the registry)."""
    decisions = {}
    for label, outcome in result.labels.items():
        name = settings.model_name(outcome.kind)
        metrics = outcome.last.metrics[MODEL]
        current = champion_version(store, name, settings.champion_alias)
        champion_auc = None
        challenger_auc = metrics.get("roc_auc")
        window = outcome.last.name
        scored_as = None
        findings = []
        contest: Contest | None = None
        if current is not None:
            champion = load_version_bundle(store, name, current.version)
            findings = data_findings(result.data, champion)
            contest = out_of_time_contest(result, label, champion, seed=result.options.seed)
            if contest.held:
                champion_auc, challenger_auc = contest.champion_auc, contest.challenger_auc
                scored_as = "registered model, out of time"
                window = "contest " + ", ".join(contest.snapshots)
            elif outcome.last_fold is not None:
                p, rows, scored_as = score_champion_on_fold(result, label, champion)
                champion_auc = roc_auc(result.data.labels[label][rows], p)
        floor = outcome.last.facts.get("ece_noise_floor")
        bound = max(settings.promotion_max_ece, floor or 0.0)
        promote, reason = decide(
            challenger_auc,
            metrics.get("ece"),
            champion_auc,
            current is not None,
            settings.promotion_auc_tolerance,
            bound,
        )
        if contest is not None:
            held = "held on" if contest.held else "not held:"
            reason += f" [out-of-time contest {held} {contest.reason}]"
        if findings:
            promote = False
            reason = "the training data is broken: " + "; ".join(f.message for f in findings)
        decisions[label] = GateDecision(
            label=label,
            model_name=name,
            promote=promote,
            reason=reason,
            challenger_auc=challenger_auc,
            challenger_ece=metrics.get("ece"),
            champion_version=None if current is None else str(current.version),
            champion_auc=champion_auc,
            champion_scored_as=scored_as,
            window=window,
            tolerance=settings.promotion_auc_tolerance,
            ece_bound=bound,
            data_findings=[f.to_dict() for f in findings],
            contest=None if contest is None else contest.to_dict(),
        )
    survival = survival_decision(store, settings, result)
    if survival is not None:
        decisions[survival.label] = survival
    return decisions
