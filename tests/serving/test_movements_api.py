"""GET /v1/portfolio/movements: the book of the served snapshot's source, per group and
filtered; refused with a problem when the snapshot names no source."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from features.writer import write_feature_table
from forecast.conformal import IntervalCalibration
from forecast.timing import RENEWALS
from serving.book_forecast import write_calibration
from serving.settings import ServingSettings
from tests.forecast.helpers import AS_OF, SEGMENTS, write_book_source
from tests.serving.conftest import AppFactory, Keys
from tests.serving.helpers import make_table, specs

PATH = "/v1/portfolio/movements"


def _book_table() -> pa.Table:
    """A snapshot of the book's own accounts (one row per account of ``write_book_source``)."""
    table = make_table(len(SEGMENTS), seed=2)
    ids = pa.array(list(SEGMENTS), pa.string())
    return table.set_column(table.schema.get_field_index("account_id"), "account_id", ids)


def _book_client(
    make_client: AppFactory, settings: ServingSettings, tmp_path: Path, table: pa.Table
) -> TestClient:
    """A client serving ``table`` as the snapshot of a written book source."""
    source = write_book_source(tmp_path / "source")
    facts = {
        "as_of": AS_OF.isoformat(),
        "grace_days": 30,
        "horizon_days": 180,
        "source": str(source),
        "keys": ["account_id", "snapshot_date"],
        "features": [s.to_dict() for s in specs()],
    }
    snapshot = write_feature_table(table, tmp_path / "f.parquet", facts)
    update = {"features": snapshot, "forecast_calibration": tmp_path / "no-calibration.json"}
    return make_client(settings=settings.model_copy(update=update))


@pytest.fixture
def book_client(make_client: AppFactory, settings: ServingSettings, tmp_path: Path) -> TestClient:
    return _book_client(make_client, settings, tmp_path, _book_table())


def test_the_book_month_by_month(book_client: TestClient, keys: Keys) -> None:
    response = book_client.get(PATH, params={"months": 4}, headers=keys.read_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["as_of"], body["grace_days"]) == ("2024-07-01", 30)
    months = {m["month"]: m for m in body["months"]}
    assert list(months) == ["2024-03-01", "2024-04-01", "2024-05-01", "2024-06-01"]
    march = months["2024-03-01"]
    assert (march["start_mrr"], march["expansion"], march["churned"]) == (600.0, 80.0, 100.0)
    assert march["nrr"] == pytest.approx(580 / 600, abs=1e-4)
    assert march["group"] is None
    assert [m["provisional"] for m in body["months"]] == [False, False, False, True]


def test_per_segment_and_filtered_by_csm(book_client: TestClient, keys: Keys) -> None:
    by = book_client.get(PATH, params={"by": "segment", "months": 1}, headers=keys.read_headers)
    assert by.status_code == 200, by.text
    groups = {m["group"]: m for m in by.json()["months"]}
    assert set(groups) == {"smb", "mid_market", "enterprise"}
    assert groups["enterprise"]["start_mrr"] == 0.0  # CHURN left in March
    bob = book_client.get(PATH, params={"csm": "bob", "months": 4}, headers=keys.read_headers)
    march = bob.json()["months"][0]
    # bob holds CHURN (100, churned in March) and LATE (100 -> 130 in March)
    assert (march["start_mrr"], march["churned"], march["expansion"]) == (200.0, 100.0, 30.0)


def test_an_unknown_segment_is_a_validation_problem(book_client: TestClient, keys: Keys) -> None:
    response = book_client.get(PATH, params={"segment": "nope"}, headers=keys.read_headers)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("/invalid-request")
    assert problem["errors"][0]["loc"] == "query.segment"
    assert "known: enterprise, mid_market, smb" in problem["errors"][0]["msg"]


def test_without_a_source_the_movements_are_unavailable(client: TestClient, keys: Keys) -> None:
    response = client.get(PATH, headers=keys.read_headers)
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/movements-unavailable")


def test_a_key_is_needed(book_client: TestClient) -> None:
    assert book_client.get(PATH).status_code == 401


def test_the_forecast_of_the_served_book(book_client: TestClient, keys: Keys) -> None:
    response = book_client.get(
        "/v1/portfolio/forecast", params={"horizon_months": 6}, headers=keys.read_headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    (horizon,) = body["horizons"]
    (book,) = horizon["groups"]
    assert (horizon["months"], book["group"], book["accounts"]) == (6, None, len(SEGMENTS))
    assert (body["intervals_backtested"], body["backtest_windows"]) == (False, None)
    # no survival model is served: the 180-day score sits on the snapshot's renewal dates
    assert body["churn_timing"] == RENEWALS
    churned = book["churned"]
    assert churned["0.9"][0] <= churned["0.8"][0] <= churned["expected"] <= churned["0.8"][1]
    assert book["baselines"]["sum_of_expectations"]["churned"] == pytest.approx(
        churned["expected"], rel=0.15
    )


def test_the_forecast_refuses_a_horizon_of_zero(book_client: TestClient, keys: Keys) -> None:
    response = book_client.get(
        "/v1/portfolio/forecast", params={"horizon_months": 0}, headers=keys.read_headers
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == "query.horizon_months"


def test_a_forecast_of_accounts_the_source_lacks_is_unavailable(
    make_client: AppFactory, settings: ServingSettings, tmp_path: Path, keys: Keys
) -> None:
    source = write_book_source(tmp_path / "source")
    facts = {"as_of": AS_OF.isoformat(), "source": str(source)}
    snapshot = write_feature_table(make_table(20, seed=2), tmp_path / "f.parquet", facts)
    client = make_client(settings=settings.model_copy(update={"features": snapshot}))
    response = client.get("/v1/portfolio/forecast", headers=keys.read_headers)
    assert response.status_code == 503
    assert "none of the 20 scored accounts is in the source" in response.json()["detail"]


def test_a_backtest_calibration_widens_the_served_intervals(
    book_client: TestClient, keys: Keys, tmp_path: Path
) -> None:
    """With the calibration file the backtests write, the intervals of a backtested horizon
    are the raw ones with both half widths doubled (factor 2), and the answer says so."""
    params = {"horizon_months": 6}
    raw = book_client.get("/v1/portfolio/forecast", params=params, headers=keys.read_headers)
    factors = {"6": {"0.8": 2.0, "0.9": 2.0}}
    write_calibration(
        IntervalCalibration.from_dict({"windows": 14, "factors": factors}),
        tmp_path / "no-calibration.json",
    )
    response = book_client.get("/v1/portfolio/forecast", params=params, headers=keys.read_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["intervals_backtested"], body["backtest_windows"]) == (True, 14)
    before = raw.json()["horizons"][0]["groups"][0]["expansion"]
    after = body["horizons"][0]["groups"][0]["expansion"]
    assert after["expected"] == before["expected"]
    for level in ("0.8", "0.9"):
        (low, high), (raw_low, raw_high) = after[level], before[level]
        mid = before["expected"]
        assert high == pytest.approx(mid + 2 * (raw_high - mid), abs=0.02)
        assert low == pytest.approx(max(mid - 2 * (mid - raw_low), 0.0), abs=0.02)
    # a horizon the backtests did not replay is not called backtested
    other = book_client.get(
        "/v1/portfolio/forecast", params={"horizon_months": 3}, headers=keys.read_headers
    ).json()
    assert (other["intervals_backtested"], other["backtest_windows"]) == (False, None)


def test_an_unreadable_calibration_is_unavailable(
    book_client: TestClient, keys: Keys, tmp_path: Path
) -> None:
    (tmp_path / "no-calibration.json").write_text("{not json")
    response = book_client.get("/v1/portfolio/forecast", headers=keys.read_headers)
    assert response.status_code == 503
    assert "interval calibration cannot be read" in response.json()["detail"]


def test_the_forecast_reads_each_accounts_term_length_from_the_snapshot(
    make_client: AppFactory, settings: ServingSettings, tmp_path: Path, keys: Keys
) -> None:
    """Repeat renewals inside a horizon (monthly terms) need the term's length: the served
    batch the forecast route reads carries it from the snapshot's features, row by row."""
    import numpy as np

    ids = list(SEGMENTS)
    terms = [30.0 + 30 * k for k in range(len(ids))]
    terms[-1] = None
    table = _book_table().append_column("term_length_days", pa.array(terms, pa.float64()))
    client = _book_client(make_client, settings, tmp_path, table)
    response = client.get("/v1/portfolio/forecast", headers=keys.read_headers)
    assert response.status_code == 200, response.text

    batch = client.app.state.holder.state.portfolio.batch
    assert batch.term_length_days is not None
    by_account = dict(zip(batch.account_id.tolist(), batch.term_length_days.tolist(), strict=True))
    want = dict(zip(ids, terms, strict=True))
    for account, term in want.items():
        if term is None:
            assert np.isnan(by_account[account])
        else:
            assert by_account[account] == term
