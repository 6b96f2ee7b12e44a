"""The web pages in a real Chromium against a real `churnlight serve`: the morning flow (sign
in, filter, sort, page, open an account, read a reason, what-if, CSV, sign out), the
refusals (no session, forged cookie, forged CSRF token, read key on an admin action),
escaping, keyboard use, and an axe-core check plus screenshots of every page at 1280 and
390 px."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from tests.serving.helpers import SCRIPT
from tests.ui.conftest import MARKED, OTHER, SCREENSHOTS, Served, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ui-browser")]


def test_the_morning_flow_in_a_browser(page, served: Served, tmp_path: Path) -> None:
    sign_in(page, served)
    assert page.get_by_role("heading", level=1).inner_text() == "Portfolio"
    assert served.read_key not in page.content() and served.read_key not in page.url

    # filter by segment and sort by MRR: the rows the API gives for the same query
    page.get_by_label("Segment").select_option("smb")
    page.get_by_label("Sort by").select_option("mrr")
    page.get_by_label("Rows per page").select_option("25")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r".*segment=smb.*"))
    api = served.api("GET", "/v1/accounts?segment=smb&sort=mrr&limit=25")
    links = page.locator("table.accounts tbody th a")
    assert links.all_inner_texts() == [item["account_id"] for item in api["items"]]
    assert page.locator("#total-accounts").inner_text() == str(api["total"])
    assert api["total"] > 25, "the snapshot has a second page of smb accounts"

    # the next page
    page.get_by_role("link", name="Next page").click()
    page.wait_for_url(re.compile(r".*offset=25.*"))
    second = served.api("GET", "/v1/accounts?segment=smb&sort=mrr&limit=25&offset=25")
    assert links.all_inner_texts() == [item["account_id"] for item in second["items"]]

    # the CSV of this view: every smb account in MRR order
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this view as CSV").click()
    saved = tmp_path / "view.csv"
    download.value.save_as(saved)
    with saved.open() as handle:
        rows = list(csv.DictReader(handle))
    every = served.api("GET", "/v1/accounts?segment=smb&sort=mrr&limit=500")["items"]
    assert [r["account_id"] for r in rows] == [i["account_id"] for i in every]
    assert {r["segment"] for r in rows} == {"smb"}

    # open an account and read a driver's reason
    account = second["items"][0]["account_id"]
    page.get_by_role("link", name=account, exact=True).click()
    page.wait_for_url(f"{served.base}/ui/accounts/{account}")
    record = served.api("GET", f"/v1/accounts/{account}")
    assert page.get_by_role("heading", level=1).inner_text() == f"Account {account}"
    reason = record["churn"]["drivers_up"][0]["reason"]
    assert page.get_by_text(reason).first.is_visible()
    waterfall = page.get_by_role("img", name=f"Churn drivers of {account}")
    assert waterfall.locator("rect").count() >= len(record["churn"]["drivers_up"]) + 2
    assert (
        page.get_by_role("img", name=f"Score history of {account}").locator("polyline").count() == 2
    )

    # what-if: the model's most used actionable feature moved far -> the probability moves,
    # as POST /v1/score says
    before = page.locator("#churn-probability").inner_text()
    field = page.locator("form.whatif input[inputmode=decimal]").first
    name = field.get_attribute("name")
    value = 0.0 if float(field.input_value() or 0) != 0 else 50.0
    field.fill(str(value))
    page.get_by_role("button", name="Rescore").click()
    changed = page.locator("#what-if-churn")
    changed.wait_for()
    scored = served.api(
        "POST", "/v1/score", {"rows": [{"account_id": account, "features": {name: value}}]}
    )["results"][0]
    assert changed.inner_text().split()[0] == f"{scored['churn_probability']:.1%}"
    assert changed.inner_text().split()[0] != before.split()[0]

    # sign out: the pages are refused
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{served.base}/ui/login")
    page.goto(f"{served.base}/ui/accounts/{account}")
    assert page.url.startswith(f"{served.base}/ui/login")
    assert served.read_key not in "".join(served.log.lines)


def test_no_session_or_a_forged_cookie_gets_the_sign_in_page(page, served: Served) -> None:
    page.goto(served.base + "/ui/model")
    assert page.url.startswith(served.base + "/ui/login?next=")
    page.context.add_cookies(
        [{"name": "churnlight_ui", "value": "eyJzaWQiOiJ4In0.AAAA", "url": served.base + "/ui"}]
    )
    page.goto(served.base + "/ui")
    assert page.get_by_role("heading", level=1).inner_text() == "Sign in"
    answer = page.request.get(served.base + "/ui/portfolio.csv")
    assert answer.status == 401


def test_a_form_with_a_forged_csrf_token_is_refused(page, served: Served) -> None:
    sign_in(page, served, path=f"/ui/accounts/{OTHER}")
    page.locator("form.whatif input[name=csrf_token]").evaluate("e => e.value = 'forged'")
    page.get_by_role("button", name="Rescore").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Form refused"
    # a cross-site form post carries no session cookie (SameSite=Strict) and no token
    answer = page.request.post(served.base + "/ui/logout", form={"csrf_token": "x"})
    assert answer.status == 403


def test_a_read_key_cannot_reload_but_an_admin_key_can(page, served: Served) -> None:
    sign_in(page, served, path="/ui/model")
    page.get_by_role("button", name="Reload models").click()
    assert page.get_by_role("status").inner_text() == (
        "Reloading needs an admin key; this key reads only."
    )
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, served, served.admin_key, "/ui/model")
    page.get_by_role("button", name="Reload models").click()
    assert page.get_by_role("status").inner_text().startswith("Reload started")


def test_markup_from_the_data_renders_as_text(page, served: Served) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, served, path=f"/ui/accounts/{MARKED}")
    assert page.get_by_text(SCRIPT, exact=True).first.is_visible()
    segment = served.api("GET", f"/v1/accounts/{MARKED}")["segment"]
    page.goto(served.base + f"/ui?segment={segment}&limit=100")
    assert page.get_by_role("cell", name=SCRIPT, exact=True).is_visible()
    assert dialogs == []


def test_the_keyboard_reaches_the_content_first(page, served: Served) -> None:
    sign_in(page, served)
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent")
    assert focused == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


PAGES = {
    "login": "/ui/login",
    "portfolio": "/ui",
    "account": f"/ui/accounts/{OTHER}",
    "movers": "/ui/movers",
    "model": "/ui/model",
}


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_passes_axe_fits_the_width_and_is_photographed(
    browser, served: Served, width: int
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    axe = Axe()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        found: dict[str, list[str]] = {}
        for name, path in PAGES.items():
            if name == "portfolio":
                sign_in(page, served)
            else:
                page.goto(served.base + path)
            assert page.url.startswith(served.base + path), (name, page.url)
            results = axe.run(page)
            found[name] = [
                f"{v['id']} ({v['impact']}): {v['help']}"
                for v in results.response["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            # nothing but the tables' own scroll regions is wider than the window
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= width, (name, overflow)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
        assert found == {name: [] for name in PAGES}
    finally:
        context.close()
