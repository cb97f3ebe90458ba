"""Rasa custom actions: thin adapters from rasa_sdk trackers to the ``bot`` package."""

from bot import logredact

# The action server logs requests and errors that can carry what shoppers typed.
logredact.install()
