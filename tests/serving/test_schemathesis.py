"""Schemathesis against the real app on a socket: every operation of docs/openapi.json (which
tests/serving/test_openapi.py keeps equal to the app's schema, so the app runs with the
default limits), positive and negative data, all checks (server errors, status codes,
content types, headers, response schemas, auth), a bounded number of examples per operation.

The schema is the committed file rather than the server's /openapi.json because
schemathesis's fixture-loaded schemas (``from_fixture``) do not run on pytest 9."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from features.writer import read_feature_table, write_feature_table
from serving.app import create_app
from serving.loading import LoadedModels, ModelInfo
from serving.settings import ServingSettings
from tests.forecast.helpers import write_book_source
from tests.serving.conftest import Keys, Models, fixed_loader
from tests.serving.live import serve
from tests.training.effects_source import champion_rescue_book
from training.effects.fit import EffectsOptions, fit_effects
from training.effects.publish import bundle_of

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
MAX_EXAMPLES = 30
CONFIG = {
    # a 1,000-row what-if on a loaded 2-core machine can pass the default 10 s read timeout;
    # a slow answer is not what this test judges (bench/ measures latency)
    "request-timeout": 120,
    # the key goes in every request (below); `ignored_auth` still checks each without it
    "generation": {
        "mode": "all",
        "max-examples": MAX_EXAMPLES,
        "with-security-parameters": False,
    },
    "checks": {
        # Valid by the schema yet refused by the data: a what-if feature the loaded models do
        # not read is 422 invalid-features (the schema cannot list a model's features), and a
        # score of unknown ids is 404 unknown-account. Both are documented problems.
        # a batch over maxItems (CHURNLIGHT_MAX_BATCH) is 413 batch-too-large, documented
        "negative_data_rejection": {
            "expected-statuses": [
                *("400", "401", "403", "404", "405", "406", "409", "413", "415", "422"),
                *("428", "429", "5xx"),
            ]
        },
        "positive_data_acceptance": {
            "expected-statuses": ["2xx", "3xx", "401", "403", "404", "422"]
        },
    },
}


@pytest.fixture(scope="module")
def base_url(
    models: Models, keys: Keys, snapshot_path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    # The snapshot names a source that holds its accounts, so /v1/portfolio/movements and
    # /v1/portfolio/forecast answer.
    root = tmp_path_factory.mktemp("fuzz-book")
    table = read_feature_table(snapshot_path)
    scored = table.table.column("account_id").to_pylist()
    source = write_book_source(root / "source", other_accounts=scored)
    snapshot = write_feature_table(
        table.table, root / "f.parquet", {**table.facts, "source": str(source)}
    )
    app_settings = ServingSettings(
        api_keys=[keys.read_hash],
        admin_keys=[keys.admin_hash],
        features=snapshot,
        home=tmp_path_factory.mktemp("fuzz-home"),
        score_threads=1,
        key_what_if_rows_per_second=0,  # fuzzing is one client: no rate limit to trip
        # A 1,000-row what-if the client stopped waiting for (request-timeout) holds its slot
        # until it ends; on a loaded machine two such made a valid POST /v1/score a 429.
        # tests/serving test the limit itself.
        key_concurrency=16,
    )
    with serve(create_app(app_settings, load=_with_effects(models), wait=True)) as url:
        yield url


def _with_effects(models: Models) -> Callable[[ServingSettings], LoadedModels]:
    """The fixed models plus a play-effects model fitted here, so ``GET /v1/plays`` answers
    its 200 (its 503 without one is documented, and schemathesis counts a 503 to valid data
    as a failure)."""
    data, runs = champion_rescue_book()
    effects = bundle_of(fit_effects(data, runs, ["champion_rescue"], EffectsOptions()))
    info = ModelInfo(kind="effects", name="churnlight-effects", version="1", alias="champion")
    fixed = fixed_loader(models)

    def load(settings: ServingSettings) -> LoadedModels:
        return dataclasses.replace(fixed(settings), effects=effects, effects_info=info)

    return load


schema = schemathesis.openapi.from_dict(
    json.loads(DOCUMENT.read_text()), config=SchemathesisConfig.from_dict(CONFIG)
)


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_api_keeps_its_schema(case, base_url: str, keys: Keys) -> None:
    # the admin key reaches every route; `ignored_auth` also sends each request without it
    case.call_and_validate(base_url=base_url, headers=keys.admin_headers)
