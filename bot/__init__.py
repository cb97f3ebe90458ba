"""Storefront lead-qualification assistant: lead store, answer parsing, flows and web app.

This package never imports rasa; the Rasa action server (``actions/``) and the
aiohttp web app (``bot.web``) are thin shells around it.
"""
