"""Lead store: SQLAlchemy models, repository, durable write spool and migrations."""
