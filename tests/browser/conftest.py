"""Headless Chromium against the real stack: one stack per module, one browser per test.

Chromium and chromedriver are Debian's (``make browser`` installs them); Selenium is
given both paths and runs offline, so nothing is downloaded. The stack's catalog is
the demo catalog plus one product whose texts are HTML, for the escaping tests.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.shadowroot import ShadowRoot
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from bot.catalog import DEMO_CATALOG
from bot.devstack import DevStack
from bot.flows import Flow, load_flow
from bot.settings import PROJECT_ROOT, Settings
from tests.e2e.conftest import CHOICE_PROMPT, MODEL
from tests.scoring import SCORING_CONFIG

# Selenium Manager must never look for drivers or browsers online.
os.environ["SE_OFFLINE"] = "true"
os.environ["SE_AVOID_STATS"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROME_ARGUMENTS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
)
RESULTS = PROJECT_ROOT / "var" / "results"
REPLY_SECONDS = 30.0
UI_SECONDS = 10.0
LEAD_SECONDS = 20.0
POLL_SECONDS = 0.1
# A reply without a question is complete once no message followed it for this long.
QUIET_SECONDS = 1.5

XSS_NAME = 'Lantern <img src=x onerror=alert("name")> & "Co"'
XSS_DESCRIPTION = "Warm light <script>alert('description')</script> for the garden."
XSS_PRODUCT = {
    "id": "lantern-xss",
    "name": XSS_NAME,
    "category": "home <b>decor</b>",
    "description": XSS_DESCRIPTION,
    "keywords": ["lantern"],
    "price": "19.00",
    "currency": "EUR",
    "ships_to": ["eu"],
    "delivery_days": 3,
    "variants": [
        {
            "id": "lantern-xss-amber",
            "name": "Amber <i onmouseover=alert(3)>glow</i>",
            "options": {"colour": "amber"},
            "stock": 5,
        }
    ],
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` first", pytrace=False)
    base = tmp_path_factory.mktemp("browser")
    catalog = base / "catalog.yml"
    # JSON is YAML: the extra product goes at the end of the products list.
    catalog.write_text(
        DEMO_CATALOG.read_text(encoding="utf-8") + f"\n  - {json.dumps(XSS_PRODUCT)}\n",
        encoding="utf-8",
    )
    with DevStack.in_folder(
        PROJECT_ROOT,
        base,
        model=MODEL,
        # The tests' own scoring numbers: the stage asserted here does not move with a retune.
        environ={
            **os.environ,
            "CATALOG_PATH": str(catalog),
            "SCORING_CONFIG": str(SCORING_CONFIG),
        },
    ) as running:
        yield running


@pytest.fixture(scope="module")
def flow() -> Flow:
    return load_flow(Settings().flows_dir / "default.yml")


@pytest.fixture
def driver() -> Iterator[WebDriver]:
    """A fresh headless Chromium (empty storage and cookies) for each test."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(
            f"{CHROMIUM} and {CHROMEDRIVER} are needed: run `make browser` "
            "(installs Debian's chromium and chromium-driver)",
            pytrace=False,
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in CHROME_ARGUMENTS:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser.set_page_load_timeout(30)
    try:
        yield browser
    finally:
        browser.quit()


def wait_until(
    driver: WebDriver, condition: Callable[[], Any], seconds: float, message: str
) -> Any:
    """``condition()`` once it is truthy, polling every 0.1 s for at most ``seconds``.

    An element that a navigation replaced (stale) counts as not yet.
    """
    return WebDriverWait(
        driver,
        seconds,
        poll_frequency=POLL_SECONDS,
        ignored_exceptions=(StaleElementReferenceException,),
    ).until(lambda _: condition(), message)


def assert_clean_console(driver: WebDriver, expected: str | None = None) -> None:
    """No error in the browser console (CSP violations, failed loads, exceptions).

    ``expected`` is a text that errors a test provokes on purpose contain.
    """
    errors = [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and (expected is None or expected not in entry["message"])
    ]
    assert errors == [], errors


def question_key(flow: Flow, text: str) -> str | None:
    """Key of the flow question ``text`` asks (prompt, re-ask or the variant choice)."""
    if text == CHOICE_PROMPT:
        return "variant"
    for question in flow.questions:
        if text in question.prompts or text == question.reask:
            return question.key
    return None


_MESSAGES_JS = """
const root = document.getElementById('storefront-chat').shadowRoot;
return Array.from(root.querySelectorAll('.msg')).map(item => [
  item.classList.contains('user') ? 'user' : 'bot',
  Array.from(item.childNodes).slice(1).map(node => node.textContent).join(''),
]);
"""


class ChatWidget:
    """The chat widget on the current page, driven like a shopper (keyboard and clicks)."""

    def __init__(self, driver: WebDriver, flow: Flow) -> None:
        self.driver = driver
        self.flow = flow

    @property
    def root(self) -> ShadowRoot:
        host = wait_until(
            self.driver,
            lambda: self.driver.find_elements(By.ID, "storefront-chat"),
            UI_SECONDS,
            "the chat widget did not appear",
        )[0]
        shadow: ShadowRoot = host.shadow_root
        return shadow

    def find(self, css: str) -> Any:
        return self.root.find_element(By.CSS_SELECTOR, css)

    def is_open(self) -> bool:
        return bool(self.find(".panel").is_displayed())

    def open(self) -> None:
        self.find(".launcher").click()
        wait_until(self.driver, self.is_open, UI_SECONDS, "the chat did not open")

    def messages(self) -> list[tuple[str, str]]:
        return [tuple(item) for item in self.driver.execute_script(_MESSAGES_JS)]

    def bot_texts(self) -> list[str]:
        return [text for sender, text in self.messages() if sender == "bot"]

    def replies(self) -> list[str]:
        return [
            button.text for button in self.root.find_elements(By.CSS_SELECTOR, ".replies button")
        ]

    def transport(self) -> str:
        transport: str = self.driver.execute_script("return window.StorefrontChat.transport()")
        return transport

    def session_id(self) -> str:
        session: str = self.driver.execute_script("return window.StorefrontChat.sessionId()")
        return session

    def say(self, text: str, expect: str | None) -> list[str]:
        """Type ``text`` and press Enter; waits for the reply (asking ``expect``, if given)."""
        before = len(self.bot_texts())
        field = self.find("input")
        field.send_keys(text)
        field.send_keys(Keys.ENTER)
        return self._reply(before, expect, said=text)

    def choose(self, title: str, expect: str | None) -> list[str]:
        """Click the quick reply ``title``; waits for the reply like :meth:`say`."""
        before = len(self.bot_texts())
        buttons = self.root.find_elements(By.CSS_SELECTOR, ".replies button")
        matching = [button for button in buttons if button.text == title]
        assert matching, f"no quick reply {title!r} among {[b.text for b in buttons]}"
        matching[0].click()
        return self._reply(before, expect, said=title)

    def asked(self, replies: list[str]) -> str | None:
        """Key of the last question among ``replies`` (a human offer may follow it)."""
        keys = [key for key in (question_key(self.flow, text) for text in replies) if key]
        return keys[-1] if keys else None

    def _reply(self, before: int, expect: str | None, said: str) -> list[str]:
        """The bot's new messages once they ask ``expect``.

        With ``expect=None``: once they ask any question, or, if none does, once no
        further message has come for a moment (a closing message, an answer).
        """
        seen = {"count": 0, "at": time.monotonic()}

        def answered() -> list[str] | None:
            new = self.bot_texts()[before:]
            if not new:
                return None
            if expect is not None:
                return new if self.asked(new) == expect else None
            if self.asked(new) is not None:
                return new
            now = time.monotonic()
            if len(new) != seen["count"]:
                seen.update(count=len(new), at=now)
                return None
            return new if now - seen["at"] >= QUIET_SECONDS else None

        try:
            replies: list[str] = wait_until(self.driver, answered, REPLY_SECONDS, "no reply")
        except TimeoutException:
            pytest.fail(f"after {said!r} the bot should ask {expect!r}; chat: {self.messages()}")
        return replies


def wait_for_lead(
    stack: DevStack, session_id: str, ready: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The session's lead once ``ready(lead)`` holds (events arrive asynchronously)."""
    deadline = time.monotonic() + LEAD_SECONDS
    lead: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        items = stack.api_get("/api/v2/leads", {"session_id": session_id})["items"]
        if items:
            lead = items[0]
            lead["events"] = stack.api_get(f"/api/v2/leads/{lead['id']}/events")["items"]
            if ready(lead):
                return lead
        time.sleep(0.25)
    pytest.fail(f"the lead of {session_id} did not become ready in time: {lead}")
