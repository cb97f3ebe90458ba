"""The aiohttp web app: the JSON API (/api/v2), the lead pages (/leads) and the demo shop."""

from bot.web.app import create_app

__all__ = ["create_app"]
