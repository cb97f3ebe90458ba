"""Rasa custom actions: thin adapters from rasa_sdk trackers to the ``bot`` package."""
