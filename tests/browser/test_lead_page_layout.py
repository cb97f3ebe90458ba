"""The lead page in headless Chromium: nothing runs off the right edge on a laptop or a phone.

The web app is served by aiohttp's test server (the lead page needs no chat); the
browser signs in through the form, as a rep does. Screenshots go to var/results.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from bot.leads.commands import RecordEvent
from tests.api.test_lead_brief_page import _answer
from tests.api.test_lead_pages import TOKEN, XSS_IMG, Site, _site
from tests.browser.conftest import RESULTS, UI_SECONDS, wait_until

pytestmark = [pytest.mark.browser]

# One unbroken word, as long as a pasted URL or tracking code.
LONG = "https://example.com/?utm=" + "x" * 300
# Elements wider than the window, outside the boxes that scroll on purpose.
OVERFLOWING = """
const width = document.documentElement.clientWidth;
return [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > width + 1 && !e.closest('.scroll'))
  .map(e => e.tagName + '.' + e.className);
"""


@pytest.fixture
async def site(migrated_sqlite_url: str, tmp_path: Path) -> AsyncIterator[Site]:
    async for built in _site(migrated_sqlite_url, tmp_path, first_name=XSS_IMG + LONG):
        _answer(built, "location", LONG, {"country": "FR", "region": "Nantes"})
        built.story.repository.apply(
            [
                RecordEvent(
                    session_id="s-story",
                    event_id="s-story-long",
                    type="add_to_cart",
                    ts=datetime.now(timezone.utc),
                    source="storefront",
                    product_id="hoodie-classic",
                    variant_id="hoodie-classic-black-m",
                    properties={"referrer": LONG},
                )
            ]
        )
        yield built


def _open_lead(driver: WebDriver, base: str, lead_url: str) -> None:
    driver.get(f"{base}/login?next={lead_url}")
    driver.find_element(By.ID, "token").send_keys(TOKEN)
    driver.find_element(By.ID, "name").send_keys("Camille Martin")
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button").click()
    wait_until(
        driver,
        lambda: driver.current_url.endswith(lead_url),
        UI_SECONDS,
        "the lead page after signing in",
    )


@pytest.mark.parametrize(("width", "name"), [(1366, "laptop"), (375, "phone")])
async def test_nothing_runs_off_the_edge(
    site: Site, driver: WebDriver, width: int, name: str
) -> None:
    base = str(site.client.make_url("")).rstrip("/")
    await asyncio.to_thread(driver.set_window_size, width, 900)
    await asyncio.to_thread(_open_lead, driver, base, site.lead_url)
    summary = await asyncio.to_thread(driver.find_element, By.CSS_SELECTOR, ".brief .summary")
    assert "Lovelace" in summary.text
    assert await asyncio.to_thread(driver.execute_script, OVERFLOWING) == []
    scroll, client = await asyncio.to_thread(
        driver.execute_script,
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
    )
    assert scroll <= client
    RESULTS.mkdir(parents=True, exist_ok=True)
    await asyncio.to_thread(driver.save_screenshot, str(RESULTS / f"lead-page-{name}.png"))
