"""The sales workspace in headless Chromium, over the real stack: inbox, lead page, dashboard.

The store is filled the way shoppers fill it: storefront events (``POST
/api/v2/events``), the public web form (``POST /api/create-lead`` with the
shopper's session id) and the chat over Rasa's REST channel. Handoffs come from
the shipped triggers (``bot/handoff/default.yml``), so their due times are the
real clock's: "most urgent first" is shown with handoffs of different SLAs, and
the one handoff that must be overdue has its due time moved into the past in the
store. A rep then signs in through the form and works the leads as a person would.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select
from sqlalchemy import update

from bot.devstack import DevStack
from bot.store.db import create_db_engine
from bot.store.models import Handoff
from tests.browser.conftest import (
    RESULTS,
    UI_SECONDS,
    assert_clean_console,
    wait_for_lead,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

REP = "Camille Martin"  # a rep of the shipped handoff file's sales team
# Each payload records that it ran before it tries to alert, so a page that ran one
# fails the test even if the browser dismissed the dialog on its own.
XSS_IMG = '<img src=x onerror="window.xssFired=1;alert(1)">'
XSS_SCRIPT = "<script>window.xssFired=2;alert(2)</script>"
XSS_FIRST = f"Eve {XSS_IMG}"
XSS_LAST = f"Mallory {XSS_SCRIPT}"
XSS_NAME = f"{XSS_FIRST} {XSS_LAST}"
XSS_COMPANY = f"<b>Evil</b> Corp {XSS_IMG}"
# An e-mail address is refused with "<" in it; these are the markup characters it may hold.
XSS_EMAIL = "eve'mallory&co@example.com"
XSS_CHAT = f"{XSS_SCRIPT} do you deliver {XSS_IMG} to Lyon?"
XSS_NOTE = f"Quote for ten, please {XSS_SCRIPT}"
URGENT_NAME = "Grace Hopperfield"
LATER_NAME = "Alan Turingham"
WARM_NAME = "Katherine Johnsonne"
OVERDUE_NAME = "Hedy Lamarrson"
# The inbox's colours (bot/web/static/leads.css) as the browser computes them.
OVERDUE_BACKGROUND = "rgba(253, 236, 234, 1)"
OVERDUE_TEXT = "rgba(179, 38, 30, 1)"
WIDTHS = [(1366, 900, "desktop"), (375, 812, "phone")]
INJECTED_JS = """
return [...document.querySelectorAll(
  'main img, main script, main b, main i, main [onerror], main [onmouseover]'
)].map(element => element.outerHTML);
"""


@dataclass(frozen=True)
class Seeded:
    """The leads the shoppers left, by role."""

    urgent: str  # asked for a person: an immediate handoff, the most urgent
    later: str  # became hot: a within-1-hour handoff, due later
    hostile: str  # markup in every field a shopper controls; hot, handed off too
    warm: str  # warm, no handoff


def _now(minutes_ago: int = 0) -> str:
    return (datetime.now(timezone.utc) - timedelta(minutes=minutes_ago)).isoformat()


def _shop(stack: DevStack, session: str, steps: list[dict[str, Any]]) -> None:
    """Storefront events of ``session``, oldest first, as the tracking snippet sends them."""
    events = [
        {
            "event_id": f"{session}-{index}",
            "session_id": session,
            "ts": _now(len(steps) - index),
            **step,
        }
        for index, step in enumerate(steps)
    ]
    response = stack.post_events(events)
    assert response.status_code == 202, response.text


def _form(stack: DevStack, session: str, **fields: str) -> None:
    """The shop's contact form, posted with the shopper's session id and consent."""
    with requests.Session() as http:
        http.trust_env = False
        response = http.post(
            f"{stack.web_url}/api/create-lead",
            json={"session_id": session, "consent": "yes", **fields},
            timeout=UI_SECONDS,
        )
    assert response.status_code == 201, response.text


def _hoodie(variant: str) -> list[dict[str, Any]]:
    return [
        {"type": "product_view", "product_id": "hoodie-classic"},
        {"type": "variant_select", "product_id": "hoodie-classic", "variant_id": variant},
        {"type": "add_to_cart", "product_id": "hoodie-classic", "variant_id": variant},
    ]


def _said(lead: dict[str, Any]) -> list[str]:
    """What the shopper wrote in the chat."""
    return [
        event["properties"]["text"]
        for event in lead["events"]
        if event["type"] == "chat_message" and event["properties"].get("sender") == "user"
    ]


def _lead_id(stack: DevStack, session: str, ready: Callable[[dict[str, Any]], bool]) -> str:
    lead_id: str = wait_for_lead(stack, session, ready)["id"]
    return lead_id


def _session(role: str) -> str:
    return f"workspace-{role}-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def seeded(stack: DevStack) -> Seeded:
    later = _session("later")
    _shop(
        stack,
        later,
        [*_hoodie("hoodie-classic-blue-m"), {"type": "payment_info", "value": 59}],
    )
    _form(stack, later, first_name="Alan", last_name="Turingham", email="alan@example.com")

    hostile = _session("hostile")
    markup = {"title": XSS_SCRIPT, XSS_IMG: "key", "referrer": "javascript:alert(3)"}
    _shop(
        stack,
        hostile,
        [
            *({**step, "properties": markup} for step in _hoodie("hoodie-classic-grey-m")),
            {"type": "shipping_check", "properties": {"country": "FR", "note": XSS_IMG}},
            {"type": "payment_info", "value": 59, "properties": markup},
        ],
    )
    _form(
        stack,
        hostile,
        first_name=XSS_FIRST,
        last_name=XSS_LAST,
        email=XSS_EMAIL,
        company=XSS_COMPANY,
        notes=XSS_NOTE,
    )
    stack.chat(hostile, "hi")
    stack.chat(hostile, XSS_CHAT)

    warm = _session("warm")
    _shop(
        stack,
        warm,
        [
            {"type": "page_view"},
            {"type": "product_view", "product_id": "tee-organic"},
            {"type": "product_view", "product_id": "hoodie-classic"},
            {"type": "compare", "product_id": "hoodie-classic"},
            {
                "type": "variant_select",
                "product_id": "hoodie-classic",
                "variant_id": "hoodie-classic-black-l",
            },
        ],
    )
    _form(stack, warm, first_name="Katherine", last_name="Johnsonne", email="kj@example.com")

    urgent = _session("urgent")
    _shop(
        stack,
        urgent,
        [
            *_hoodie("hoodie-classic-black-m"),
            {"type": "shipping_check", "properties": {"country": "FR"}},
        ],
    )
    _form(stack, urgent, first_name="Grace", last_name="Hopperfield", email="grace@example.com")
    stack.chat(urgent, "hello")
    stack.chat(urgent, "can I talk to a real person?")

    leads = Seeded(
        urgent=_lead_id(stack, urgent, lambda lead: lead["human_requested_at"] is not None),
        later=_lead_id(stack, later, lambda lead: lead["stage"] == "hot"),
        hostile=_lead_id(stack, hostile, lambda lead: XSS_CHAT in _said(lead)),
        warm=_lead_id(stack, warm, lambda lead: lead["stage"] == "warm"),
    )
    _wait_for_handoffs(stack, {leads.urgent: "immediate", leads.later: "within_1h"})
    return leads


def _wait_for_handoffs(stack: DevStack, slas: dict[str, str]) -> None:
    """Until each lead of ``slas`` has an open handoff with that SLA."""
    deadline = time.monotonic() + UI_SECONDS
    while True:
        open_slas = {
            handoff["lead_id"]: handoff["sla"]
            for handoff in stack.api_get("/api/v2/handoffs", {"status": "open"})["items"]
        }
        if all(open_slas.get(lead) == sla for lead, sla in slas.items()):
            return
        assert time.monotonic() < deadline, f"open handoffs {open_slas}, expected {slas}"
        time.sleep(0.25)


@pytest.fixture
def rep(driver: WebDriver, stack: DevStack) -> Iterator[WebDriver]:
    """The browser of a rep signed in through the form, on the inbox."""
    driver.get(f"{stack.web_url}/login?next=/leads")
    driver.find_element(By.ID, "token").send_keys(stack.api_token)
    driver.find_element(By.ID, "name").send_keys(REP)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait_until(
        driver,
        lambda: driver.current_url == f"{stack.web_url}/leads",
        UI_SECONDS,
        "the inbox after signing in",
    )
    yield driver


def rows(driver: WebDriver) -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, ".inbox tbody tr")


def row_of(driver: WebDriver, lead_id: str) -> WebElement:
    found = driver.find_elements(
        By.XPATH, f"//section[@class='inbox']//tr[.//a[@href='/leads/{lead_id}']]"
    )
    assert len(found) == 1, f"lead {lead_id} should have one row"
    return found[0]


def lead_link(row: WebElement) -> WebElement:
    return row.find_element(By.CSS_SELECTOR, "td:first-child a")


def show(driver: WebDriver, **fields: str) -> None:
    """Fill the inbox filters and press Show."""
    form = driver.find_element(By.CSS_SELECTOR, "form.filters")
    for name, value in fields.items():
        field = form.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_visible_text(value)
        else:
            field.clear()
            field.send_keys(value)
    form.find_element(By.TAG_NAME, "button").click()
    wait_until(
        driver,
        lambda: all(f"{name}={value}" in driver.current_url for name, value in fields.items()),
        UI_SECONDS,
        f"the inbox filtered by {fields}",
    )


def assert_no_script_ran(driver: WebDriver) -> None:
    """No alert is open, no payload set its flag, no element came from shopper text."""
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018 - raises unless an alert is open
    assert driver.execute_script("return window.xssFired") is None
    assert driver.execute_script(INJECTED_JS) == []


def assert_fits(driver: WebDriver) -> None:
    """The page does not scroll sideways."""
    scroll, inner = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll <= inner, f"{driver.current_url} is {scroll} px wide in a {inner} px window"


def test_rep_finds_the_most_urgent_handoff_first_and_closes_it_as_won(
    stack: DevStack, seeded: Seeded, rep: WebDriver
) -> None:
    handoffs = stack.api_get("/api/v2/handoffs", {"status": "open"})["items"]
    by_due = sorted(handoffs, key=lambda handoff: handoff["due_at"])
    assert by_due[0]["lead_id"] == seeded.urgent, by_due
    assert by_due[0]["sla"] == "immediate" and by_due[1]["due_at"] > by_due[0]["due_at"]

    # Unacknowledged handoffs first, soonest due first, then the leads by score.
    listed = rows(rep)
    first = listed[0]
    assert lead_link(first).text == URGENT_NAME
    assert "Handoff waiting" in first.text and "due" in first.text
    assert "waiting" in (first.get_attribute("class") or "").split()
    order = [lead_link(row).get_attribute("href").rsplit("/", 1)[-1] for row in listed]
    # Soonest due first. Outside business hours several SLAs end at the same opening
    # time, and handoffs due at the same moment may come in either order.
    due_of: dict[str, str] = {}
    for handoff in by_due:
        due_of.setdefault(handoff["lead_id"], handoff["due_at"])
    waiting = order[: len(due_of)]
    assert sorted(waiting) == sorted(due_of)
    dues = [datetime.fromisoformat(due_of[lead]) for lead in waiting]
    assert dues == sorted(dues), list(zip(waiting, dues, strict=True))
    assert order.index(seeded.warm) > order.index(seeded.later)
    assert "Handoff waiting" not in row_of(rep, seeded.warm).text

    show(rep, stage="hot")
    hot = rows(rep)
    assert {row.find_element(By.CSS_SELECTOR, "span.stage").text for row in hot} == {"hot"}
    hot_ids = {lead_link(row).get_attribute("href").rsplit("/", 1)[-1] for row in hot}
    assert {seeded.urgent, seeded.later, seeded.hostile} <= hot_ids and seeded.warm not in hot_ids
    show(rep, q="Hopperfield")
    assert "stage=hot" in rep.current_url
    (found,) = rows(rep)
    lead_link(found).click()
    wait_until(
        rep,
        lambda: rep.current_url.endswith(f"/leads/{seeded.urgent}"),
        UI_SECONDS,
        "the lead page",
    )

    summary = rep.find_element(By.CSS_SELECTOR, ".brief .summary").text
    assert summary.startswith(f"{URGENT_NAME}, reachable by email, wants Classic Hoodie — black, M")
    assert "asked for a person" in summary
    next_step = rep.find_element(By.CSS_SELECTOR, ".brief .next").text
    assert next_step.startswith(f"Email {URGENT_NAME} before ")
    assert "(SLA 15 min): Grace asked for a person." in next_step

    rep.find_element(By.CSS_SELECTOR, "form[action^='/handoffs/'] button").click()
    wait_until(
        rep,
        lambda: not rep.find_elements(By.CSS_SELECTOR, "form[action^='/handoffs/']"),
        UI_SECONDS,
        "the handoff acknowledged",
    )
    assert f"by {REP}" in rep.find_element(By.CSS_SELECTOR, ".brief .next").text

    status = rep.find_element(By.CSS_SELECTOR, "form[action$='/status']")
    Select(status.find_element(By.NAME, "status")).select_by_visible_text("Won")
    status.find_element(By.NAME, "reason").send_keys("Paid by card on the phone")
    status.find_element(By.TAG_NAME, "button").click()
    wait_until(
        rep,
        lambda: rep.find_element(By.XPATH, "//h2[starts-with(., 'Status:')]").text == "Status: Won",
        UI_SECONDS,
        "the status Won on the lead page",
    )
    assert "Paid by card on the phone" in rep.find_element(By.TAG_NAME, "main").text

    lead = stack.api_get(f"/api/v2/leads/{seeded.urgent}")
    assert lead["status"] == "Won" and lead["converted_at"] is not None, lead
    (handoff,) = stack.api_get("/api/v2/handoffs", {"lead_id": seeded.urgent})["items"]
    assert handoff["status"] == "closed" and handoff["acknowledged_by"] == REP, handoff
    assert_clean_console(rep)


def _overdue_lead(stack: DevStack) -> str:
    """A hot shopper whose within-1-hour handoff was due five minutes ago."""
    session = _session("overdue")
    _shop(
        stack, session, [*_hoodie("hoodie-classic-blue-m"), {"type": "payment_info", "value": 59}]
    )
    _form(stack, session, first_name="Hedy", last_name="Lamarrson", email="hedy@example.com")
    lead_id = _lead_id(stack, session, lambda lead: lead["stage"] == "hot")
    _wait_for_handoffs(stack, {lead_id: "within_1h"})
    engine = create_db_engine(stack.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                update(Handoff)
                .where(Handoff.lead_id == lead_id)
                .values(due_at=datetime.now(timezone.utc) - timedelta(minutes=5))
            )
    finally:
        engine.dispose()
    return lead_id


def _team_time(value: str) -> tuple[str, str]:
    """A stored time as the sales pages show it (the team's zone) and on hover (UTC)."""
    moment = datetime.fromisoformat(value)
    local = moment.astimezone(ZoneInfo("Europe/Paris"))
    shown = f"{local:%a} {local.day} {local:%b %Y, %H:%M} {local.tzname()}"
    return shown, f"{moment.astimezone(timezone.utc):%Y-%m-%d %H:%M} UTC"


def test_overdue_handoff_is_red_and_acknowledging_it_returns_to_the_filtered_inbox(
    stack: DevStack, seeded: Seeded, rep: WebDriver
) -> None:
    overdue = _overdue_lead(stack)
    filtered = f"{stack.web_url}/leads?stage=hot&sort=-score"
    rep.get(filtered)

    late = row_of(rep, overdue)
    assert "overdue" in (late.get_attribute("class") or "").split()
    assert late.value_of_css_property("background-color") == OVERDUE_BACKGROUND
    marker = late.find_element(By.XPATH, ".//strong[. = 'Overdue handoff']")
    assert marker.value_of_css_property("color") == OVERDUE_TEXT
    # Its due time in the team's zone, UTC on hover.
    (handoff,) = stack.api_get("/api/v2/handoffs", {"lead_id": overdue})["items"]
    due = late.find_elements(By.TAG_NAME, "time")[0]
    stored = datetime.fromisoformat(due.get_attribute("datetime") or "")
    assert stored == datetime.fromisoformat(handoff["due_at"])
    assert (due.text, due.get_attribute("title")) == _team_time(handoff["due_at"])

    # Handed off within the hour and not due yet: waiting, not red.
    waiting = row_of(rep, seeded.later)
    assert "Handoff waiting" in waiting.text and "Overdue handoff" not in waiting.text
    assert "overdue" not in (waiting.get_attribute("class") or "").split()
    assert waiting.value_of_css_property("background-color") != OVERDUE_BACKGROUND

    late.find_element(By.CSS_SELECTOR, "form[action^='/handoffs/'] button").click()
    wait_until(
        rep,
        lambda: "acknowledged=" in rep.current_url,
        UI_SECONDS,
        "the inbox after acknowledging",
    )
    assert rep.current_url.startswith(f"{filtered}&acknowledged=")
    notice = rep.find_element(By.CSS_SELECTOR, "p.notice[role='status']")
    assert notice.text == f"Handoff of {OVERDUE_NAME} acknowledged by {REP}."
    form = rep.find_element(By.CSS_SELECTOR, "form.filters")
    assert Select(form.find_element(By.NAME, "stage")).first_selected_option.text == "hot"
    assert Select(form.find_element(By.NAME, "sort")).first_selected_option.text == (
        "Score, highest first"
    )
    done = row_of(rep, overdue)
    assert "overdue" not in (done.get_attribute("class") or "").split()
    assert f"by {REP}" in done.text
    assert not done.find_elements(By.CSS_SELECTOR, "form[action^='/handoffs/']")
    assert_clean_console(rep)


def test_markup_in_every_shopper_field_is_shown_as_text(
    stack: DevStack, seeded: Seeded, rep: WebDriver
) -> None:
    row = row_of(rep, seeded.hostile)
    assert lead_link(row).text == XSS_NAME
    assert XSS_COMPANY in row.text
    assert_no_script_ran(rep)

    lead_link(row).click()
    wait_until(
        rep,
        lambda: rep.current_url.endswith(f"/leads/{seeded.hostile}"),
        UI_SECONDS,
        "the lead page",
    )
    page = rep.find_element(By.TAG_NAME, "main").text
    assert rep.find_element(By.TAG_NAME, "h1").text.startswith(XSS_NAME)
    assert f"{XSS_NAME}, {XSS_COMPANY} · {XSS_EMAIL}" in page  # the brief's "Who"
    mailto = rep.find_element(By.CSS_SELECTOR, ".brief a[href^='mailto:']")
    assert mailto.get_attribute("href") == f"mailto:{XSS_EMAIL}"
    transcript = rep.find_element(By.ID, "transcript").text
    assert f"user: {XSS_CHAT}" in transcript
    assert f"“{XSS_CHAT}”" in rep.find_element(By.CSS_SELECTOR, ".brief .summary").text
    assert XSS_NOTE in page  # the note the form left
    assert_no_script_ran(rep)
    assert_clean_console(rep)


@pytest.mark.parametrize(("width", "height", "name"), WIDTHS, ids=[w[2] for w in WIDTHS])
def test_inbox_lead_page_and_dashboard_fit_the_screen(
    stack: DevStack, seeded: Seeded, rep: WebDriver, width: int, height: int, name: str
) -> None:
    rep.set_window_size(width, height)
    RESULTS.mkdir(parents=True, exist_ok=True)
    pages = {
        "inbox": "/leads",
        "lead": f"/leads/{seeded.hostile}",
        "dashboard": "/leads/dashboard",
    }
    for page, path in pages.items():
        rep.get(f"{stack.web_url}{path}")
        assert rep.find_element(By.TAG_NAME, "h1").text
        assert_fits(rep)
        assert_no_script_ran(rep)
        rep.save_screenshot(str(RESULTS / f"workspace-{page}-{name}.png"))
    assert rep.find_elements(By.CSS_SELECTOR, "svg[role='img']"), "the dashboard has no chart"
    assert_clean_console(rep)
