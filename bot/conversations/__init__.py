"""Rasa's conversation events, taken from the RabbitMQ event broker and stored once.

Rasa publishes every new tracker event to the broker before it commits the turn
to the tracker store, and the broker may deliver a message again after a lost
connection, so the consumer deduplicates (:mod:`bot.conversations.keys`), stores
in batches and acknowledges only after the commit (:mod:`bot.conversations.consumer`),
and :mod:`bot.conversations.reconcile` squares the stored events with the tracker
store afterwards. Nothing here imports Rasa: the events are plain JSON.
"""
