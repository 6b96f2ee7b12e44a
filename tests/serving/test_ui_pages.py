"""The web pages under /ui in the app (TestClient): sign-in and session, CSRF, pages, CSV,
what-if, escaping, admin, and that the OpenAPI document does not list them."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from serving.history import HistoryStore
from serving.history_rows import history_rows, new_run_id
from tests.serving.conftest import scored
from tests.serving.helpers import JUNE, SCRIPT, ui_table, write_snapshot


@pytest.fixture
def ui_settings(settings, tmp_path, models):
    """Settings of a served snapshot with markup in a CSM id and a history of two dates."""
    features = write_snapshot(ui_table(), tmp_path / "ui.parquet")
    uri = f"duckdb:///{tmp_path / 'h.duckdb'}"
    june = scored(models, ui_table(seed=5, snapshot_date=JUNE))
    HistoryStore(uri).write(history_rows(june, new_run_id(), datetime.now(UTC)), "test")
    return settings.model_copy(update={"features": features, "history_uri": uri})


@pytest.fixture
def ui(make_client, ui_settings) -> TestClient:
    return make_client(settings=ui_settings)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: TestClient, key: str, next_path: str = "/ui") -> str:
    """Sign in through the form; the HTML of the page it lands on."""
    page = client.get("/ui/login", params={"next": next_path})
    assert page.status_code == 200
    answer = client.post(
        "/ui/login",
        data={"csrf_token": csrf_of(page.text), "api_key": key, "next": next_path},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == next_path
    landed = client.get(answer.headers["location"])
    assert landed.status_code == 200
    return landed.text


def test_pages_need_a_session_and_the_login_form_has_its_label(ui, keys) -> None:
    for path in ("/ui", "/ui/accounts/A001", "/ui/movers", "/ui/model"):
        answer = ui.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/ui/login?next=")
    assert ui.get("/ui/portfolio.csv").status_code == 401
    # a form sent without a session: sign in, then back to the form's page
    sent = ui.post("/ui/accounts/A001/what-if", data={"x": "1"}, follow_redirects=False)
    assert sent.status_code == 303
    assert sent.headers["location"] == "/ui/login?next=%2Fui%2Faccounts%2FA001"
    login = ui.get("/ui/login")
    assert '<label for="api_key">API key</label>' in login.text
    assert 'type="password"' in login.text and ">Sign in</button>" in login.text
    cookie = login.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie


def test_sign_in_sets_a_session_that_holds_no_key_and_sign_out_ends_it(ui, keys) -> None:
    html = sign_in(ui, keys.read)
    assert "<h1>Portfolio</h1>" in html
    cookie = ui.cookies.get("churnlight_ui")
    assert cookie and keys.read not in cookie and keys.read not in html
    copied = dict(ui.cookies)
    answer = ui.post("/ui/logout", data={"csrf_token": csrf_of(html)}, follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/ui/login"
    assert ui.get("/ui", follow_redirects=False).status_code == 303
    # the copied cookie of the ended session is refused too
    ui.cookies.clear()
    ui.cookies.update(copied)
    assert ui.get("/ui", follow_redirects=False).status_code == 303


def test_a_wrong_key_or_a_forged_cookie_gets_the_sign_in_page(ui, keys) -> None:
    page = ui.get("/ui/login")
    answer = ui.post(
        "/ui/login", data={"csrf_token": csrf_of(page.text), "api_key": "cl_wrong", "next": "/ui"}
    )
    assert answer.status_code == 401
    assert "That API key is not valid." in answer.text and "cl_wrong" not in answer.text
    sign_in(ui, keys.read)
    body, mac = ui.cookies["churnlight_ui"].split(".")
    ui.cookies.clear()
    ui.cookies.set("churnlight_ui", f"{body}.{mac[:-2]}AA", path="/ui")
    assert ui.get("/ui", follow_redirects=False).status_code == 303


def test_forms_without_the_sessions_csrf_token_are_refused(ui, keys) -> None:
    page = ui.get("/ui/login")
    refused = ui.post("/ui/login", data={"csrf_token": "forged", "api_key": keys.read})
    assert refused.status_code == 403 and "CSRF" in refused.text
    html = sign_in(ui, keys.read)
    assert csrf_of(html) != csrf_of(page.text)  # a new token once signed in
    for path in ("/ui/logout", "/ui/accounts/A001/what-if", "/ui/me", "/ui/model/reload"):
        assert ui.post(path, data={"csrf_token": csrf_of(page.text)}).status_code == 403
    assert ui.get("/ui").status_code == 200  # still signed in


def test_after_sign_in_the_page_asked_for_opens(ui, keys) -> None:
    html = sign_in(ui, keys.read, "/ui/accounts/A002")
    assert "<h1>Account A002</h1>" in html
    page = ui.get("/ui/login", params={"next": "https://evil.example/"})
    assert 'name="next" value="/ui"' in page.text


def test_the_portfolio_filters_sorts_pages_and_totals_like_the_api(ui, keys) -> None:
    sign_in(ui, keys.read)
    query = {"segment": "smb", "sort": "mrr", "order": "desc", "limit": 5, "offset": 5}
    html = ui.get("/ui", params=query).text
    api = ui.get("/v1/accounts", params=query, headers=keys.read_headers).json()
    shown = re.findall(r'<a href="/ui/accounts/([^"]+)">', html)
    assert shown == [item["account_id"] for item in api["items"]]
    assert f'<dd id="total-accounts">{api["total"]}</dd>' in html
    every = ui.get(
        "/v1/accounts", params={"segment": "smb", "limit": 500}, headers=keys.read_headers
    ).json()["items"]
    mrr = sum(item["mrr"] for item in every)
    assert f'<dd id="total-mrr">${mrr:,.0f}</dd>' in html
    assert 'rel="prev"' in html and 'rel="next"' in html
    tiers = set(re.findall(r'class="tier tier-(\w+)"', html))
    assert tiers <= {i["risk_tier"] for i in api["items"]}


def test_the_csv_is_every_row_of_the_view_in_its_order(ui, keys) -> None:
    sign_in(ui, keys.read)
    query = {"lifecycle_stage": "adoption", "sort": "churn_probability", "order": "asc"}
    answer = ui.get("/ui/portfolio.csv", params=query)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    api = ui.get("/v1/accounts", params={**query, "limit": 500}, headers=keys.read_headers).json()
    assert [r["account_id"] for r in rows] == [i["account_id"] for i in api["items"]]
    assert float(rows[0]["churn_probability"]) == api["items"][0]["churn_probability"]


def test_renewal_date_sort_is_the_soonest_first(ui, keys) -> None:
    sign_in(ui, keys.read)
    rows = list(
        csv.DictReader(
            io.StringIO(ui.get("/ui/portfolio.csv", params={"sort": "days_to_renewal"}).text)
        )
    )
    days = [int(r["days_to_renewal"]) for r in rows]
    assert days == sorted(days, reverse=True)
    dates = [r["renewal_date"] for r in rows]
    assert dates == sorted(dates, reverse=True)


def test_markup_in_data_renders_as_text(ui, keys) -> None:
    sign_in(ui, keys.read)
    html = ui.get("/ui", params={"sort": "mrr", "limit": 100}).text
    assert SCRIPT not in html
    row = re.search(r'<th scope="row"><a href="/ui/accounts/A000">A000</a></th>.*?</tr>', html)
    assert row and "<td>&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</td>" in row.group(0)
    # the CSM filter's options (Jinja's escaping)
    assert '<option value="&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;">' in html
    account = ui.get("/ui/accounts/A000").text
    assert SCRIPT not in account and "&lt;script&gt;" in account
    rows = ui.get("/ui/portfolio.csv").text
    assert SCRIPT in rows  # the CSV holds the value itself (text, no formula)


def test_the_account_page_shows_drivers_waterfall_playbooks_and_history(ui, keys) -> None:
    sign_in(ui, keys.read)
    record = ui.get("/v1/accounts/A001", headers=keys.read_headers).json()
    html = ui.get("/ui/accounts/A001").text
    assert f"{record['churn_probability']:.1%}" in html
    assert html.count('<svg viewBox="0 0 640') >= 3  # two waterfalls and the history
    for driver in record["churn"]["drivers_up"] + record["churn"]["drivers_down"]:
        assert driver["reason"].replace("'", "&#39;") in html
    for play in record["playbooks"]:
        assert play["title"] in html
    assert "2024-06-01" in html and "polyline" in html
    missing = ui.get("/ui/accounts/NOPE")
    assert missing.status_code == 404 and "NOPE" in missing.text


def test_what_if_rescores_through_the_apis_scoring(ui, keys) -> None:
    html = sign_in(ui, keys.read, "/ui/accounts/A003")
    fields = re.findall(r'<input id="wi-([a-z0-9_]+)"', html)
    assert fields, "the what-if form offers features"
    name = "champion_departures_90d" if "champion_departures_90d" in fields else fields[0]
    answer = ui.post("/ui/accounts/A003/what-if", data={"csrf_token": csrf_of(html), name: "4"})
    assert answer.status_code == 200
    api = ui.post(
        "/v1/score",
        json={"rows": [{"account_id": "A003", "features": {name: 4.0}}]},
        headers=keys.read_headers,
    ).json()["results"][0]
    shown = re.search(r'<dd id="what-if-churn">([0-9.]+%)', answer.text)
    assert shown and shown.group(1) == f"{api['churn_probability']:.1%}"
    bad = ui.post("/ui/accounts/A003/what-if", data={"csrf_token": csrf_of(html), name: "lots"})
    assert bad.status_code == 422 and "is not a number" in bad.text


def test_movers_and_model_pages(ui, keys) -> None:
    sign_in(ui, keys.read)
    movers = ui.get("/ui/movers").text
    api = ui.get("/v1/movers", headers=keys.read_headers).json()
    assert f"{api['total']} account(s) whose risk rose" in movers
    assert api["items"][0]["account_id"] in movers
    model = ui.get("/ui/model").text
    card = ui.get("/v1/model", headers=keys.read_headers).json()["churn"]
    assert f"v{card['version']}" in model and "Feature importance" in model
    assert "Health of the served snapshot" in model


def test_a_read_key_cannot_reload_and_an_admin_key_can(ui, keys) -> None:
    html = sign_in(ui, keys.read, "/ui/model")
    refused = ui.post("/ui/model/reload", data={"csrf_token": csrf_of(html)})
    assert refused.status_code == 403 and "needs an admin key" in refused.text
    ui.cookies.clear()
    html = sign_in(ui, keys.admin, "/ui/model")
    started = ui.post("/ui/model/reload", data={"csrf_token": csrf_of(html)})
    assert started.status_code == 202 and "Reload started" in started.text


def test_my_accounts_filters_on_the_chosen_csm(ui, keys) -> None:
    html = sign_in(ui, keys.read)
    answer = ui.post(
        "/ui/me", data={"csrf_token": csrf_of(html), "csm_id": "csm1"}, follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/ui?csm_id=csm1"
    page = ui.get("/ui?csm_id=csm1").text
    assert 'href="/ui?csm_id=csm1">My accounts</a>' in page
    api = ui.get("/v1/accounts", params={"csm_id": "csm1"}, headers=keys.read_headers).json()
    assert f'<dd id="total-accounts">{api["total"]}</dd>' in page


def test_the_openapi_document_lists_no_page(ui) -> None:
    paths = ui.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/ui")]
