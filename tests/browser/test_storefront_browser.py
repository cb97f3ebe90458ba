"""The demo shop, chat widget and tracking snippet in headless Chromium, over the real stack.

The shop is opened at ``localhost`` while its widget files, events API and Rasa
server are addressed as ``127.0.0.1``: every call the widget and snippet make is
cross-origin, as on a real shop. Questions are recognised from the flow file, not
from wording written here.
"""

from __future__ import annotations

import base64
import threading
import time
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

pytestmark = pytest.mark.e2e

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

    It counts the page's calls to the events API, and answers the next chat message
    itself when a test puts messages in ``window.cannedReply``.
    """
    events = f"{stack.web_url}/api/v2/events"
    webhook = f"{stack.rasa_url}/webhooks/rest/webhook"
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>Another shop</title>
<script>
  window.eventCalls = [];
  window.cannedReply = null;
  const send = window.fetch, beacon = navigator.sendBeacon.bind(navigator);
  window.fetch = function (url) {{
    if (String(url) === "{events}") eventCalls.push("fetch");
    if (String(url) === "{webhook}" && window.cannedReply) {{
      const body = JSON.stringify(window.cannedReply);
      window.cannedReply = null;
      const headers = {{"Content-Type": "application/json"}};
      return Promise.resolve(new Response(body, {{headers}}));
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
    """Another site's pages (own origin): a product page and a checkout page.

    The product page opens the chat after 1 s and points the socket at a path where
    no socket.io server answers (so the widget falls back to REST); the checkout page
    opens the chat after 1 s without activity.
    """
    pages = {
        "/": _host_page(
            stack,
            'data-page-type="product" data-product-id="tee-organic" '
            'data-socket-path="/no-socket-here/" data-proactive-product-seconds="1"',
        ),
        "/checkout": _host_page(
            stack, 'data-page-type="checkout" data-proactive-checkout-idle-seconds="1"'
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

    viewed = driver.execute_script(
        "return StorefrontEvents.track('product_view', {product_id: 'tee-organic'})"
    )
    driver.execute_script("return StorefrontEvents.flush()")
    widget.say("hi", expect="timeline")
    assert widget.transport() == "rest"
    session_id = widget.session_id()
    assert driver.execute_script("return StorefrontEvents.sessionId()") is None
    assert driver.execute_script("return window.eventCalls") == []
    assert driver.execute_script("return localStorage.getItem('storefront_events_queue')") is None

    # Links, images and quick replies as the REST channel sends them; markup stays text.
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
        ],
    )
    widget.say("show me the size guide", expect=None)
    assert widget.bot_texts()[-3:] == [
        "Our <b>size guide</b>: https://shop.example.com/sizes. Or the FAQ!",
        "",
        "[click](javascript:alert(1))",
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
    assert_no_alert(driver)

    driver.execute_script("StorefrontEvents.grantConsent()")
    assert driver.execute_script("return StorefrontEvents.sessionId()") == session_id
    wait_for_lead(stack, session_id, lambda lead: "product_view" in storefront_types(lead))
    assert driver.execute_script("return window.eventCalls") == ["fetch"]

    # Page hide hands what is queued to sendBeacon, with the token in the body.
    compared = driver.execute_script(
        "return StorefrontEvents.track('compare', "
        "{properties: {product_ids: ['tee-organic', 'hoodie-classic']}})"
    )
    driver.execute_script("window.dispatchEvent(new Event('pagehide'))")
    assert driver.execute_script("return window.eventCalls") == ["fetch", "beacon"]
    # A real departure, before the snippet's own flush is due.
    driver.execute_script(
        "StorefrontEvents.track('shipping_check', {product_id: 'tee-organic', "
        "properties: {country: 'DE'}}); location.href = '/elsewhere';"
    )
    lead = wait_for_lead(
        stack,
        session_id,
        lambda lead: {"compare", "shipping_check"} <= storefront_types(lead),
    )
    ids = [event["event_id"] for event in lead["events"] if event["source"] == "storefront"]
    assert viewed in ids and compared in ids and len(ids) == len(set(ids)) == 3
    assert any(event["type"] == "chat_message" for event in lead["events"])
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
    assert_clean_console(driver)
