"""The demo shop, chat widget and tracking snippet in headless Chromium, over the real stack.

The shop is opened at ``localhost`` while its widget files, events API and Rasa
server are addressed as ``127.0.0.1``: every call the widget and snippet make is
cross-origin, as on a real shop. Questions are recognised from the flow file, not
from wording written here.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from bot.devstack import DevStack
from bot.flows import Flow
from tests.browser.conftest import (
    RESULTS,
    UI_SECONDS,
    XSS_DESCRIPTION,
    XSS_NAME,
    XSS_PRODUCT,
    ChatWidget,
    assert_clean_console,
    wait_for_lead,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CORE_ANSWERS = {"timeline", "variant", "location", "budget"}
SHOPPER_MARKUP = "<img src=x onerror=alert(1)>"
PROACTIVE_MESSAGE = "Need help choosing a size?"


def shop_url(stack: DevStack) -> str:
    """The demo shop under another name than the one its scripts and APIs use."""
    return f"http://localhost:{stack.ports.web}"


def assert_no_alert(driver: WebDriver) -> None:
    try:
        WebDriverWait(driver, 1).until(expected_conditions.alert_is_present())
    except TimeoutException:
        return
    try:
        text = driver.switch_to.alert.text
        driver.switch_to.alert.dismiss()
    except NoAlertPresentException:
        text = "(closed)"
    pytest.fail(f"a script injected into the page ran: alert({text!r})")


def injected_elements(driver: WebDriver) -> list[str]:
    """Elements in the shop's main part or the chat log that only markup in data could create."""
    found: list[str] = driver.execute_script(
        """
        const chat = document.getElementById('storefront-chat');
        const inChat = chat ? Array.from(chat.shadowRoot.querySelectorAll('.msg *')) : [];
        const markup = 'main img, main script, main i, main b';
        const inPage = Array.from(document.querySelectorAll(markup));
        return inPage.concat(inChat)
          .filter(node => !(node.matches('span.sr') || node.matches('a[href^="http"]')))
          .map(node => node.outerHTML);
        """
    )
    return found


_FOCUSED_JS = (
    "const active = document.getElementById('storefront-chat').shadowRoot.activeElement;"
    "return active && active.className;"
)


def storefront_types(lead: dict[str, Any]) -> set[str]:
    return {event["type"] for event in lead["events"] if event["source"] == "storefront"}


def storefront_counts(lead: dict[str, Any]) -> dict[str, int]:
    return dict(
        Counter(event["type"] for event in lead["events"] if event["source"] == "storefront")
    )


def local(driver: WebDriver, key: str) -> Any:
    return driver.execute_script("return localStorage.getItem(arguments[0])", key)


def stored_keys(driver: WebDriver) -> list[str]:
    """The storefront keys in the page's localStorage."""
    keys: list[str] = driver.execute_script(
        "return Object.keys(localStorage).filter(key => key.startsWith('storefront_')).sort()"
    )
    return keys


def test_shopper_browses_chats_reloads_and_becomes_a_scored_lead(
    stack: DevStack, driver: WebDriver, flow: Flow
) -> None:
    driver.get(shop_url(stack) + "/")
    driver.find_element(By.LINK_TEXT, "Classic Hoodie").click()
    driver.find_element(By.CSS_SELECTOR, "input[value='hoodie-classic-blue-m']").click()
    driver.find_element(By.CSS_SELECTOR, "#add-to-cart button").click()
    wait_until(
        driver,
        lambda: driver.find_element(By.ID, "cart-link").text == "Cart (1)",
        UI_SECONDS,
        "the hoodie did not reach the cart",
    )
    widget = ChatWidget(driver, flow)
    session_id = widget.session_id()
    assert driver.execute_script("return window.StorefrontEvents.sessionId()") == session_id

    widget.open()
    assert driver.execute_script("return document.activeElement.id") == "storefront-chat"
    timeline, consent = flow.question("timeline"), flow.question("contact_consent")
    assert timeline is not None and consent is not None
    # Quick replies where the flow offers them, typed answers elsewhere. The order is
    # the flow's (the page's product and variant may already answer a question).
    clicked = {"timeline": timeline.buttons[0], "contact_consent": consent.buttons[0]}
    typed = {
        "variant": "the blue one in M",
        "location": "Lyon",
        "budget": "around 300 euros",
        "contact_name": "Jane Doe",
        "contact_details": "jane.doe@example.com",
    }
    asked = [widget.asked(widget.say("hi", expect="timeline"))]
    reloaded = False
    while asked[-1] is not None:
        key = asked[-1]
        assert asked.count(key) == 1, f"{key} asked twice: {asked}"
        if key in clicked:
            assert widget.replies() == list(flow.question(key).buttons)  # type: ignore[union-attr]
            replies = widget.choose(clicked[key], expect=None)
        else:
            replies = widget.say(typed[key], expect=None)
        asked.append(widget.asked(replies))
        if not reloaded and len(asked) >= 3:
            reloaded = True
            before_reload, offered = widget.messages(), widget.replies()
            driver.refresh()
            widget = ChatWidget(driver, flow)
            wait_until(driver, widget.is_open, UI_SECONDS, "the chat did not reopen after a reload")
            assert widget.messages() == before_reload
            assert widget.replies() == offered
            assert widget.session_id() == session_id
    assert reloaded and {"timeline", "location", "budget", "contact_details"} <= set(asked)
    assert widget.transport() == "socket"

    RESULTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(RESULTS / "widget.png"))
    driver.set_window_size(390, 844)
    panel = widget.find(".panel")
    viewport = driver.execute_script(
        "return [document.documentElement.clientWidth, window.innerHeight]"
    )
    wait_until(
        driver,
        lambda: [panel.rect["width"], panel.rect["height"]] == viewport,
        UI_SECONDS,
        f"the open chat should fill a phone's screen {viewport}, it is {panel.rect}",
    )
    driver.save_screenshot(str(RESULTS / "widget-mobile.png"))

    lead = wait_for_lead(
        stack,
        session_id,
        lambda lead: (
            set(lead["answers"]) >= CORE_ANSWERS
            and lead["email"] is not None
            and {"product_view", "variant_select", "add_to_cart"} <= storefront_types(lead)
        ),
    )
    # What the shopper did, once each: two product views (the page, then the page the
    # cart sent back to; its reload is the same view), one variant picked, one addition
    # (reported from the server's answer, not the reloaded page).
    assert storefront_counts(lead) == {"product_view": 2, "variant_select": 1, "add_to_cart": 1}
    answers = lead["answers"]
    assert answers["variant"]["value"] == "hoodie-classic-blue-m", answers["variant"]
    assert answers["location"]["value"]["country"] == "FR"
    assert answers["budget"]["value"] == {"amount": 300, "currency": "EUR"}
    assert answers["timeline"]["raw"] == timeline.buttons[0]
    assert lead["first_name"] == "Jane" and lead["email"] == "jane.doe@example.com"
    assert lead["score"] > 0 and lead["stage"] in ("warm", "hot"), lead
    added = next(event for event in lead["events"] if event["type"] == "add_to_cart")
    assert added["variant_id"] == "hoodie-classic-blue-m"
    assert Decimal(str(added["value"])) == Decimal("59.00")
    shopper_lines = [
        event["properties"]["text"]
        for event in lead["events"]
        if event["type"] == "chat_message" and event["properties"]["sender"] == "user"
    ]
    assert shopper_lines[:2] == ["hi", timeline.buttons[0]], shopper_lines
    assert_clean_console(driver)


def test_the_option_a_product_page_pre_selects_is_not_taken_as_the_shoppers_choice(
    stack: DevStack, driver: WebDriver, flow: Flow
) -> None:
    driver.get(shop_url(stack) + "/products/jacket-rain")
    pre_selected = driver.find_element(By.CSS_SELECTOR, "input[name='variant_id']:checked")
    assert pre_selected.get_attribute("value") == "jacket-rain-red-s"
    widget = ChatWidget(driver, flow)
    session_id = widget.session_id()
    widget.open()
    timeline = flow.question("timeline")
    assert timeline is not None
    widget.say("hi", expect="timeline")
    # The variant is asked, narrowed to the page's product (its in-stock options).
    replies = widget.choose(timeline.buttons[0], expect=None)
    assert replies[-1] == "Which option of the Rain Jacket would you like?", replies
    assert widget.replies() == [
        "Rain Jacket — red, S",
        "Rain Jacket — red, M",
        "Rain Jacket — blue, M",
        "Rain Jacket — black, XL",
    ]
    widget.say("the blue one in M", expect="location")
    lead = wait_for_lead(stack, session_id, lambda lead: "variant" in lead["answers"])
    assert lead["answers"]["variant"]["value"] == "jacket-rain-blue-m"
    assert_clean_console(driver)


def test_markup_in_catalog_and_chat_is_shown_as_text(
    stack: DevStack, driver: WebDriver, flow: Flow
) -> None:
    driver.get(f"{shop_url(stack)}/products/{XSS_PRODUCT['id']}")
    assert driver.find_element(By.TAG_NAME, "h1").text == XSS_NAME
    assert XSS_NAME in driver.title
    assert XSS_DESCRIPTION in driver.find_element(By.TAG_NAME, "main").text
    widget = ChatWidget(driver, flow)
    widget.open()

    widget.say(SHOPPER_MARKUP, expect=None)
    assert ("user", SHOPPER_MARKUP) in widget.messages()
    # Asked on the product's page, the bot names the product in its answer.
    replies = widget.say("how much is it", expect=None)
    assert any(XSS_NAME in reply for reply in replies), replies

    assert injected_elements(driver) == []
    assert_no_alert(driver)

    # Keyboard: Escape closes the chat and gives the focus back to the launcher.
    widget.find("input").send_keys(Keys.ESCAPE)
    assert not widget.is_open()
    assert driver.execute_script(_FOCUSED_JS) == "launcher"
    # A reply that comes while the chat is closed is counted as unread.
    driver.execute_script("StorefrontChat.send('thanks')")
    badge, launcher = widget.find(".badge"), widget.find(".launcher")
    wait_until(driver, badge.is_displayed, UI_SECONDS, "no unread badge")
    assert int(badge.text) >= 1 and "unread" in launcher.get_attribute("aria-label")
    launcher.send_keys(Keys.ENTER)
    assert widget.is_open() and not badge.is_displayed()
    assert_clean_console(driver)


_RENDERED_JS = """
const log = document.getElementById('storefront-chat').shadowRoot.querySelector('.log');
const links = Array.from(log.querySelectorAll('a'));
return {
  links: links.map(a => [a.href, a.textContent]),
  safe: links.every(a => a.target === '_blank' && a.rel === 'noopener noreferrer'),
  images: Array.from(log.querySelectorAll('img')).map(img => [img.src, img.naturalWidth]),
};
"""
# A 1x1 transparent PNG: an image the bot can show without any network.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)
SESSION_KEY = "storefront_session_id"
QUEUE_KEY = "storefront_events_queue"
HISTORY_KEY = "storefront_chat_history:"
OPEN_KEY = "storefront_chat_open"
# A shop's own session id the chat server cannot use (over 128 characters).
LONG_SESSION_ID = "s" * 129


class _HostSite(BaseHTTPRequestHandler):
    pages: dict[str, bytes] = {}

    def do_GET(self) -> None:
        if self.path == "/pixel.png":
            body, kind = PIXEL, "image/png"
        else:
            body = self.pages.get(self.path, b"<!doctype html><title>Elsewhere</title>")
            kind = "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def _host_page(stack: DevStack, widget_attributes: str) -> bytes:
    """A page of another shop embedding the snippet (consent required) and the widget.

    It records the page's calls to the events API (``eventCalls``), the events each
    fetch carried (``eventBatches``) and the server's answers (``eventResults``); a
    test can have the next fetches answered with the statuses in ``eventAnswers``
    instead. It answers the next chat message itself when a test puts messages in
    ``window.cannedReply``.
    """
    events = f"{stack.web_url}/api/v2/events"
    webhook = f"{stack.rasa_url}/webhooks/rest/webhook"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Another shop</title>
<script>
  window.eventCalls = [];
  window.eventBatches = [];
  window.eventResults = [];
  window.eventAnswers = [];
  window.cannedReply = null;
  const send = window.fetch, beacon = navigator.sendBeacon.bind(navigator);
  const json = {{"Content-Type": "application/json"}};
  window.fetch = function (url, init) {{
    if (String(url) === "{events}") {{
      eventCalls.push("fetch");
      eventBatches.push(JSON.parse(init.body).events);
      if (eventAnswers.length) {{
        const status = eventAnswers.shift();
        const body = JSON.stringify({{error: {{status, message: "canned " + status}}}});
        return Promise.resolve(new Response(body, {{status, headers: json}}));
      }}
      return send.apply(this, arguments).then(response => {{
        response.clone().json().then(body => eventResults.push(body));
        return response;
      }});
    }}
    if (String(url) === "{webhook}" && window.cannedReply) {{
      const body = JSON.stringify(window.cannedReply);
      window.cannedReply = null;
      return Promise.resolve(new Response(body, {{headers: json}}));
    }}
    return send.apply(this, arguments);
  }};
  navigator.sendBeacon = function (url, body) {{
    if (String(url) === "{events}") eventCalls.push("beacon");
    return beacon(url, body);
  }};
</script>
<script src="{stack.web_url}/snippet.js" data-token="{stack.storefront_token}"
  data-require-consent defer></script>
<script src="{stack.web_url}/widget.js" data-rasa-url="{stack.rasa_url}"
  data-proactive-message="{PROACTIVE_MESSAGE}" {widget_attributes} defer></script>
</head><body><h1>Another shop</h1><input id="email" aria-label="Email"></body></html>""".encode()


@pytest.fixture
def other_shop(stack: DevStack) -> Iterator[str]:
    """Another site's pages (own origin): a product page, a checkout page and another.

    The product page opens the chat after 1 s and points the socket at a path where
    no socket.io server answers (so the widget falls back to REST); the checkout page
    opens the chat after 1 s without activity, and passes a session id of the shop's
    that is too long for the chat server.
    """
    pages = {
        "/": _host_page(
            stack,
            'data-page-type="product" data-product-id="tee-organic" '
            'data-socket-path="/no-socket-here/" data-proactive-product-seconds="1"',
        ),
        "/elsewhere-with-snippet": _host_page(stack, 'data-page-type="other"'),
        "/checkout": _host_page(
            stack,
            'data-page-type="checkout" data-proactive-checkout-idle-seconds="1" '
            f'data-session-id="{LONG_SESSION_ID}"',
        ),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Site", (_HostSite,), {"pages": pages}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_embedded_on_another_site_with_consent_beacons_and_rest_fallback(
    stack: DevStack, driver: WebDriver, flow: Flow, other_shop: str
) -> None:
    driver.get(other_shop + "/")
    widget = ChatWidget(driver, flow)
    wait_until(driver, widget.is_open, UI_SECONDS, "the proactive rule did not open the chat")
    assert widget.messages() == [("bot", PROACTIVE_MESSAGE)]
    assert driver.execute_script("return document.activeElement === document.body")
    # No consent and no chat yet: nothing is stored, not even the session id, and a
    # chat the shop opened is not reopened on the next page.
    assert stored_keys(driver) == []
    assert driver.execute_script("return sessionStorage.getItem(arguments[0])", OPEN_KEY) is None

    viewed = driver.execute_script(
        "return StorefrontEvents.track('product_view', {product_id: 'tee-organic'})"
    )
    driver.execute_script("return StorefrontEvents.flush()")
    assert stored_keys(driver) == []
    widget.say("hi", expect="timeline")
    assert widget.transport() == "rest"
    session_id = widget.session_id()
    # Writing is the shopper's choice: the chat (id and history) is kept from now on,
    # while events still wait for consent.
    assert local(driver, SESSION_KEY) == session_id
    assert stored_keys(driver) == sorted([SESSION_KEY, HISTORY_KEY + session_id])
    assert driver.execute_script("return StorefrontEvents.sessionId()") is None
    assert driver.execute_script("return window.eventCalls") == []

    # Links, images and quick replies as the REST channel sends them; markup stays text,
    # and only http(s) URLs become links or images.
    driver.execute_script(
        "window.cannedReply = arguments[0]",
        [
            {
                "text": "Our <b>size guide</b>: https://shop.example.com/sizes. "
                "Or [the FAQ](https://shop.example.com/faq)!",
                "buttons": [{"title": "<i>Yes</i>", "payload": "/affirm"}],
            },
            {"image": f"{other_shop}/pixel.png"},
            {"text": "[click](javascript:alert(1))"},
            {"text": "javascript:alert(2) [data](data:text/html,<script>alert(3)</script>)"},
            {"image": "javascript:alert(4)"},
            {"image": "data:image/svg+xml,<svg onload='alert(5)'/>"},
            {"attachment": {"type": "image", "payload": {"src": "javascript:alert(6)"}}},
            {"text": "an image", "image": "vbscript:msgbox(7)"},
        ],
    )
    widget.say("show me the size guide", expect=None)
    assert widget.bot_texts()[-5:] == [
        "Our <b>size guide</b>: https://shop.example.com/sizes. Or the FAQ!",
        "",
        "[click](javascript:alert(1))",
        "javascript:alert(2) [data](data:text/html,<script>alert(3)</script>)",
        "an image",
    ]
    assert driver.execute_script(_RENDERED_JS) == {
        "links": [
            ["https://shop.example.com/sizes", "https://shop.example.com/sizes"],
            ["https://shop.example.com/faq", "the FAQ"],
        ],
        "safe": True,
        "images": [[f"{other_shop}/pixel.png", 1]],
    }
    assert widget.replies() == ["<i>Yes</i>"]
    assert injected_elements(driver) == [
        f'<img src="{other_shop}/pixel.png" alt="Image from the assistant" loading="lazy">'
    ]
    assert_no_alert(driver)

    driver.execute_script("StorefrontEvents.grantConsent()")
    assert driver.execute_script("return StorefrontEvents.sessionId()") == session_id
    wait_for_lead(stack, session_id, lambda lead: "product_view" in storefront_types(lead))
    assert driver.execute_script("return window.eventCalls") == ["fetch"]

    # Page hide hands what is queued to sendBeacon, with the token in the body. A beacon
    # is only queued by the browser: the events stay stored until a fetch confirms them.
    compared = driver.execute_script(
        "return StorefrontEvents.track('compare', "
        "{properties: {product_ids: ['tee-organic', 'hoodie-classic']}})"
    )
    driver.execute_script("window.dispatchEvent(new Event('pagehide'))")
    assert driver.execute_script("return window.eventCalls") == ["fetch", "beacon"]
    assert [event["event_id"] for event in json.loads(local(driver, QUEUE_KEY))] == [compared]
    driver.execute_script("window.dispatchEvent(new Event('pagehide'))")
    assert driver.execute_script("return window.eventCalls") == ["fetch", "beacon"]  # once
    # A real departure, before the snippet's own flush is due.
    driver.execute_script(
        "StorefrontEvents.track('shipping_check', {product_id: 'tee-organic', "
        "properties: {country: 'DE'}}); location.href = '/elsewhere';"
    )
    wait_for_lead(
        stack, session_id, lambda lead: {"compare", "shipping_check"} <= storefront_types(lead)
    )
    # The next page resends what no fetch confirmed; the server knows those event_ids.
    driver.get(other_shop + "/")
    # (Past the product page's proactive rule: it opens no chat for a shopper who chatted.)
    wait_until(
        driver,
        lambda: driver.execute_script("return performance.now() > 1500"),
        UI_SECONDS,
        "the page did not stay",
    )
    wait_until(
        driver,
        lambda: driver.execute_script(
            "return window.eventResults.length && !StorefrontEvents.pending()"
        ),
        UI_SECONDS,
        "the next page did not resend the beaconed events",
    )
    (resent,) = driver.execute_script("return window.eventResults")
    assert resent["accepted"] == 0 and resent["duplicates"] >= 1, resent
    assert local(driver, QUEUE_KEY) is None
    lead = wait_for_lead(stack, session_id, lambda lead: True)
    assert storefront_counts(lead) == {"product_view": 1, "compare": 1, "shipping_check": 1}
    ids = {event["event_id"] for event in lead["events"] if event["source"] == "storefront"}
    assert {viewed, compared} <= ids
    assert any(event["type"] == "chat_message" for event in lead["events"])

    # Revoking forgets the shopper: nothing stored is left, and a new session starts;
    # another open tab of the shop stops sending too.
    assert widget.messages()
    first_tab = driver.current_window_handle
    driver.switch_to.new_window("tab")
    driver.get(other_shop + "/elsewhere-with-snippet")
    assert driver.execute_script("return StorefrontEvents.hasConsent()") is True
    other_tab = driver.current_window_handle
    driver.switch_to.window(first_tab)
    driver.execute_script("StorefrontEvents.revokeConsent()")
    assert stored_keys(driver) == []
    assert widget.session_id() != session_id
    assert widget.messages() == [] and widget.replies() == []
    assert driver.execute_script("return StorefrontEvents.hasConsent()") is False
    assert_clean_console(driver, expected="/no-socket-here/")
    driver.switch_to.window(other_tab)
    assert driver.execute_script("return StorefrontEvents.hasConsent()") is False
    assert driver.execute_script("return StorefrontEvents.track('page_view')")
    assert stored_keys(driver) == []


def test_snippet_splits_refused_batches_gives_up_on_4xx_and_merges_tabs(
    stack: DevStack, driver: WebDriver, flow: Flow, other_shop: str
) -> None:
    driver.get(other_shop + "/")
    driver.execute_script("StorefrontEvents.grantConsent()")
    session_id = driver.execute_script("return StorefrontEvents.sessionId()")

    def pending() -> int:
        count: int = driver.execute_script("return StorefrontEvents.pending()")
        return count

    def batches() -> list[list[dict[str, Any]]]:
        sent: list[list[dict[str, Any]]] = driver.execute_script("return window.eventBatches")
        return sent

    # Another tab stored an event meanwhile: it is kept with this tab's, not overwritten.
    driver.execute_script("window.eventAnswers = [413]")
    other_tab = {
        "event_id": "other-tab-1",
        "session_id": session_id,
        "type": "page_view",
        "ts": driver.execute_script("return new Date().toISOString()"),
    }
    driver.execute_script(
        "localStorage.setItem(arguments[0], JSON.stringify([arguments[1]]))", QUEUE_KEY, other_tab
    )
    driver.execute_script("StorefrontEvents.track('page_view', {event_id: 'this-tab-1'})")
    # Properties over 4096 characters of JSON are left out (the event is kept).
    big = driver.execute_script(
        "return StorefrontEvents.track('compare', {properties: {notes: 'x'.repeat(5000)}})"
    )
    queued = [event["event_id"] for event in json.loads(local(driver, QUEUE_KEY))]
    assert queued == ["other-tab-1", "this-tab-1", big]

    # 413: the batch is sent again in halves, nothing is lost.
    driver.execute_script("StorefrontEvents.flush()")
    wait_until(driver, lambda: pending() == 0, UI_SECONDS, "the halves were not sent")
    assert [len(batch) for batch in batches()] == [3, 1, 2]
    assert all("properties" not in event for batch in batches() for event in batch)

    def answered(statuses: list[int], *tracked: str) -> tuple[int, int]:
        """Track events (JS arguments of track), answer with ``statuses``: sent, pending."""
        before = len(batches())
        driver.execute_script("window.eventAnswers = arguments[0]", statuses)
        for arguments in tracked:
            driver.execute_script(f"StorefrontEvents.track({arguments})")
        driver.execute_script("return StorefrontEvents.flush()")
        return len(batches()) - before, pending()

    # 5xx (and 408, 429): kept and retried. Other 4xx: dropped at once, never retried.
    assert answered([503], "'page_view'") == (1, 1)
    wait_until(driver, lambda: pending() == 0, UI_SECONDS, "a 503 was not retried")
    assert answered([404], "'page_view'") == (1, 0)
    # 401/403 (a refused token or origin): what is queued is dropped and sending stops.
    assert answered([403], "'page_view'", "'compare'") == (1, 0)
    assert answered([], "'page_view'") == (0, 1)
    lead = wait_for_lead(stack, session_id, lambda lead: True)
    assert storefront_counts(lead) == {"page_view": 3, "compare": 1}

    # Chat history: capped, forgotten 30 days after it was last written, and merged with
    # what another tab of the session wrote.
    key = HISTORY_KEY + session_id

    def write_history(messages: list[dict[str, Any]], age_days: float = 0) -> None:
        driver.execute_script(
            "localStorage.setItem(arguments[0], JSON.stringify("
            "{updated: Date.now() - arguments[2] * 86400000, messages: arguments[1]}))",
            key,
            messages,
            age_days,
        )

    def message(number: int) -> dict[str, Any]:
        at = driver.execute_script("return Date.now()") + number
        return {"id": f"othertab-{number}", "at": at, "tab": "othertab", "from": "user",
                "text": f"message {number}"}  # fmt: skip

    write_history([message(index) for index in range(300)])
    driver.refresh()
    widget = ChatWidget(driver, flow)
    wait_until(driver, lambda: len(widget.messages()) == 200, UI_SECONDS, "history not capped")
    assert widget.messages()[0] == ("user", "message 100")

    write_history([message(1)], age_days=31)
    driver.execute_script("sessionStorage.clear()")  # the proactive rule may open it again
    driver.refresh()
    widget = ChatWidget(driver, flow)
    wait_until(driver, widget.is_open, UI_SECONDS, "the proactive rule did not open the chat")
    assert widget.messages() == [("bot", PROACTIVE_MESSAGE)]  # the expired one is gone
    stored = json.loads(local(driver, key))
    assert [item["text"] for item in stored["messages"]] == [PROACTIVE_MESSAGE]

    # The other tab is in the same session: it hears the bot's answer too.
    twin = {**message(2000), "id": "othertab-twin", "from": "bot", "text": "noted"}
    write_history([*stored["messages"], message(2), twin])
    driver.execute_script("window.cannedReply = [{text: 'noted'}]")
    widget.say("hello from this tab", expect=None)
    stored = json.loads(local(driver, key))
    assert [item["text"] for item in stored["messages"]] == [
        PROACTIVE_MESSAGE,
        "message 2",
        "hello from this tab",
        "noted",
    ]
    assert_clean_console(driver, expected="/no-socket-here/")


def test_checkout_hesitation_opens_the_chat_once_the_shopper_stops(
    driver: WebDriver, flow: Flow, other_shop: str
) -> None:
    driver.get(other_shop + "/checkout")
    widget = ChatWidget(driver, flow)
    field = driver.find_element(By.ID, "email")
    busy_until = time.monotonic() + 2.0
    while time.monotonic() < busy_until:
        field.send_keys("a")  # a shopper filling in the form is not hesitating
        assert not widget.is_open()
    wait_until(driver, widget.is_open, UI_SECONDS, "the checkout rule did not open the chat")
    assert widget.messages() == [("bot", PROACTIVE_MESSAGE)]
    assert driver.switch_to.active_element == field
    assert driver.execute_script("return sessionStorage.getItem(arguments[0])", OPEN_KEY) is None

    # The shop's session id is too long for the chat server, which confirms a new one:
    # the widget chats as that, and the replies reach it over the socket.
    widget.say("hi", expect="timeline")
    assert widget.transport() == "socket"
    assert len(widget.session_id()) == 32 and widget.session_id() != LONG_SESSION_ID

    # On a phone the rule shows the unread badge instead of covering the page.
    driver.execute_script("sessionStorage.clear()")
    driver.set_window_size(390, 844)
    driver.refresh()
    widget = ChatWidget(driver, flow)
    badge = widget.find(".badge")
    wait_until(driver, badge.is_displayed, UI_SECONDS, "no badge for the proactive message")
    assert badge.text == "1" and not widget.is_open()
    widget.open()
    assert widget.messages() == [("bot", PROACTIVE_MESSAGE)]
    assert_clean_console(driver)
