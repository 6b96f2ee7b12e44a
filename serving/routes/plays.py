"""``GET /v1/plays``: every play of the library with its estimated effects and evidence."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from serving import problems
from serving.auth import ReadAccess
from serving.deps import StateDep
from serving.errors import EffectsUnavailable
from serving.problems import example, read_errors
from serving.schemas import PlaysResponse

router = APIRouter(prefix="/v1/plays", tags=["plays"])

NO_EFFECTS = (
    "no play-effects model is registered; estimate the plays' effects with "
    "`churnlight plays --source SRC` (the scores and playbooks still serve)"
)


@router.get(
    "",
    operation_id="list_plays",
    response_model=PlaysResponse,
    summary="Each play's estimated effect on churn and expansion, per segment and stage",
    responses=problems.responses(
        *read_errors("/v1/plays"),
        (
            problems.EFFECTS_UNAVAILABLE,
            example(problems.EFFECTS_UNAVAILABLE, NO_EFFECTS, "/v1/plays"),
        ),
    ),
)
async def list_plays(state: StateDep, _: ReadAccess) -> dict[str, Any]:
    effects, info = state.models.effects, state.models.effects_info
    if effects is None or info is None:
        raise EffectsUnavailable(NO_EFFECTS)
    library = state.playbooks.playbooks
    ids = [p.id for p in library]
    titles = {p.id: (p.title, p.cost) for p in library}
    extra = sorted({str(r["play"]) for r in effects.effects} - set(ids))
    plays = []
    for play in [*ids, *extra]:
        title, cost = titles.get(play, (play, None))
        cells = [
            {**row, "uplift_model": effects.has_uplift(play, str(row["label"]))}
            for row in effects.effects
            if row["play"] == play
        ]
        plays.append({"id": play, "title": title, "cost": cost, "effects": cells})
    return {
        "effects_model_version": info.label,
        "as_of": effects.metadata.get("as_of"),
        "plays": plays,
    }
