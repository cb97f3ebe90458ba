"""The lead store: persistence only, and nothing here imports a layer above it.

Tables and column types (``models``, ``types``), engines and write
transactions (``db``), migrations (``migrate``, ``migrations/``); the SQL of
lead writes and scores (``writes``), of confirmed merges (``merge``), of lead
management (``entries``) and of likely-duplicate links (``duplicates``); reads
(``queries``, ``history``, ``views``); the sales desk's statuses, notes and
acknowledgements (``sales``); contact field rules (``contacts``); lifecycle
stages, ids, API tokens (``tokens``), sales sessions (``websessions``) and the
Rasa conversations a person's data includes (``tracker``). Scoring and handoffs
happen above, in the lead service, which runs these in its transactions.
"""
