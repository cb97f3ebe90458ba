"""The aiohttp web app: leads API (and, later, events, lead pages and the demo shop)."""

from bot.web.app import create_app

__all__ = ["create_app"]
