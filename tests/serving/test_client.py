"""The typed client (serving.client) against the real app on 127.0.0.1: typed answers, ETag
revalidation, problems as ApiError with their kind and Retry-After."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serving.app import create_app
from serving.client import ApiClient, ApiError
from serving.schemas import AccountHistory, AccountScore, ModelResponse, PortfolioPage
from tests.serving.conftest import Keys, Models, fixed_loader
from tests.serving.live import serve

SNAPSHOT = "2024-07-01"


@pytest.fixture
def base_url(settings, models: Models) -> Iterator[str]:
    app_settings = settings.model_copy(update={"key_what_if_rows_per_second": 1})
    app = create_app(app_settings, load=fixed_loader(models), wait=True)
    app.state.limits.clock = lambda: 1000.0  # no refill while a batch is scored
    with serve(app) as url:
        yield url


def test_the_client_reads_typed_records(base_url: str, keys: Keys) -> None:
    with ApiClient(base_url, keys.read) as api:
        account = api.get_account("A001")
        page = api.list_accounts(risk_tier=["low", "medium", "high", "critical"], limit=5)
        model = api.get_model()
        history = api.get_account_history("A001")
        scored = api.score(account_ids=["A001", "nope"])

    assert isinstance(account, AccountScore) and account.account_id == "A001"
    assert account.snapshot_date == SNAPSHOT
    assert isinstance(page, PortfolioPage) and page.total == 60 and len(page.items) == 5
    assert isinstance(model, ModelResponse) and model.accounts == 60
    assert isinstance(history, AccountHistory) and history.points[-1].snapshot_date == SNAPSHOT
    assert scored.results[0] == account and scored.not_found == ["nope"]


def test_the_client_revalidates_a_record_with_its_etag(base_url: str, keys: Keys, caplog) -> None:
    with ApiClient(base_url, keys.read) as api, caplog.at_level("INFO", "churnlight.access"):
        first = api.get_account("A001")
        second = api.get_account("A001")

    statuses = [r.fields["status"] for r in caplog.records if r.name == "churnlight.access"]
    assert statuses == [200, 304]
    assert second == first


def test_problems_become_api_errors(base_url: str, keys: Keys) -> None:
    with ApiClient(base_url, keys.read) as api:
        with pytest.raises(ApiError) as unknown:
            api.get_account("no such account")
        with pytest.raises(ApiError) as invalid:
            api.list_accounts(limit=0)
        api.score(rows=[{"account_id": "A001"}] * 20)  # the key's bucket holds one batch
        with pytest.raises(ApiError) as limited:
            api.score(rows=[{"account_id": "A001"}])

    assert (unknown.value.status, unknown.value.kind) == (404, "unknown-account")
    assert unknown.value.problem.detail == (
        f"account 'no such account' not found in the snapshot of {SNAPSHOT}"
    )
    assert invalid.value.kind == "invalid-request"
    assert invalid.value.problem.errors[0].loc == "query.limit"
    assert (limited.value.status, limited.value.kind) == (429, "rate-limited")
    assert limited.value.retry_after == 1


def test_a_wrong_key_and_a_read_key_on_reload(base_url: str, keys: Keys) -> None:
    with ApiClient(base_url, "cl_wrong") as api, pytest.raises(ApiError) as wrong:
        api.get_model()
    with ApiClient(base_url, keys.read) as api, pytest.raises(ApiError) as forbidden:
        api.reload(wait=True)
    with ApiClient(base_url, keys.admin) as api:
        reloaded = api.reload(wait=True)
        ready = api.readyz()

    assert wrong.value.kind == "invalid-key" and wrong.value.status == 401
    assert forbidden.value.kind == "admin-required"
    assert reloaded.status == "ready" and ready.accounts == 60
