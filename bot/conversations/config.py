"""Where the event broker is: the same environment variables the cluster's endpoints file reads.

``endpoints-cluster.yml``'s ``event_broker`` section hands these to Rasa's
``PikaEventBroker``; the consumer reads them here, so both sides meet on one queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

DEFAULTS = {
    "RABBITMQ_HOST": "127.0.0.1",
    "RABBITMQ_PORT": "5672",
    "RABBITMQ_USER": "guest",
    "RABBITMQ_PASSWORD": "guest",
    "RABBITMQ_QUEUE": "storefront_events",
}


@dataclass(frozen=True)
class BrokerSettings:
    """The RabbitMQ server and queue; ``host`` may be an ``amqp://`` or ``amqps://`` URL."""

    host: str = DEFAULTS["RABBITMQ_HOST"]
    port: int = int(DEFAULTS["RABBITMQ_PORT"])
    user: str = DEFAULTS["RABBITMQ_USER"]
    password: str = DEFAULTS["RABBITMQ_PASSWORD"]
    queue: str = DEFAULTS["RABBITMQ_QUEUE"]

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> BrokerSettings:
        """Settings from ``environ``; an unset or empty variable takes its default."""
        values = {name: environ.get(name) or default for name, default in DEFAULTS.items()}
        try:
            port = int(values["RABBITMQ_PORT"])
        except ValueError:
            raise ValueError(
                f"RABBITMQ_PORT must be a port number, got {values['RABBITMQ_PORT']!r}"
            ) from None
        if not 0 < port < 65536:
            raise ValueError(f"RABBITMQ_PORT must be between 1 and 65535, got {port}")
        host = values["RABBITMQ_HOST"].strip()
        if "://" in host and urlsplit(host).scheme not in ("amqp", "amqps"):
            raise ValueError(
                f"RABBITMQ_HOST must be a host name or an amqp:// or amqps:// URL, got {host!r}"
            )
        return cls(
            host=host,
            port=port,
            user=values["RABBITMQ_USER"],
            password=values["RABBITMQ_PASSWORD"],
            queue=values["RABBITMQ_QUEUE"],
        )

    def url(self) -> str:
        """The AMQP URL to connect to.

        As Rasa's ``PikaEventBroker._configure_url`` does, a URL host keeps its path
        (the virtual host) and query, gets the user and password unless it names
        them, and the port unless it has one.
        """
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        if "://" not in self.host:
            return f"amqp://{credentials}@{self.host}:{self.port}/"
        parts = urlsplit(self.host)
        netloc = parts.netloc if "@" in parts.netloc else f"{credentials}@{parts.netloc}"
        if parts.port is None:
            netloc = f"{netloc}:{self.port}"
        query = f"?{parts.query}" if parts.query else ""
        return f"{parts.scheme}://{netloc}{parts.path or '/'}{query}"

    def __repr__(self) -> str:
        return (
            f"BrokerSettings(host={self.host!r}, port={self.port}, user={self.user!r}, "
            f"password='***', queue={self.queue!r})"
        )
