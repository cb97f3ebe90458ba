"""Process settings, read once from the environment.

Every variable has a local default so a fresh checkout runs with SQLite and no
external services. Secrets are masked when settings are printed or logged.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = PROJECT_ROOT / "var"
SECRET_FIELDS = frozenset(
    {
        "leads_api_token",
        "storefront_token",
        "actions_token",
        "database_url",
        "tracker_store_url",
        "session_secret",
        "handoff_webhook_url",
        "handoff_webhook_secret",
        "order_webhook_secrets",
        "handoff_slack_webhook_url",
        "rate_limit_redis_url",
    }
)
RATE_LIMIT_REDIS_SCHEMES = ("redis", "rediss", "unix")


def _default_database_url() -> str:
    return f"sqlite:///{VAR_DIR / 'leads.db'}"


def _env_int(environ: dict[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc


def _env_positive_int(environ: dict[str, str], name: str, default: int, *, unit: str) -> int:
    value = _env_int(environ, name, default)
    if value < 1:
        raise ValueError(f"{name} must be a positive number of {unit}, got {value}")
    return value


def _rate_limit_redis_url(raw: str) -> str:
    url = raw.strip()
    if url and urlsplit(url).scheme not in RATE_LIMIT_REDIS_SCHEMES:
        raise ValueError(
            "RATE_LIMIT_REDIS_URL: expected a redis://, rediss:// or unix:// URL such as "
            "redis://127.0.0.1:6379/2, got one starting "
            f"{mask_url_password(url)[:20]!r}"
        )
    return url


def _webhook_secrets(name: str, raw: str) -> tuple[str, ...]:
    """Standard Webhooks secrets (``whsec_`` + base64 of 24 to 64 bytes), space-separated."""
    secrets = tuple(raw.split())
    for position, secret in enumerate(secrets, start=1):
        try:
            key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if not secret.startswith("whsec_") or not 24 <= len(key) <= 64:
            raise ValueError(
                f"{name}: secret {position} is not 'whsec_' followed by base64 of 24 to 64 "
                "random bytes (several secrets separated by spaces while rotating; make one "
                "with: python -m bot handoffs secret)"
            )
    return secrets


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, lower-cased (what browsers send as Origin)."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme}://{parts.netloc}".lower()


def _shop_origins(raw: str) -> tuple[str, ...]:
    origins = tuple(item.strip().rstrip("/").lower() for item in raw.split(",") if item.strip())
    for origin in origins:
        if origin != "*" and (
            origin_of(origin) != origin or urlsplit(origin).scheme not in ("http", "https")
        ):
            raise ValueError(
                f"SHOP_ORIGINS: {origin!r} is not an origin such as https://shop.example.com "
                "(scheme, host and optional port, no path), or *"
            )
    return origins or ("*",)


def _sibling_url(url: str, port: int) -> str:
    """``url``'s scheme and host with another port."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def mask_url_password(url: str) -> str:
    """Hide the password part of a database URL (``user:***@host``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


@dataclass(frozen=True)
class Settings:
    """Configuration of the lead store, web app and conversation."""

    database_url: str = field(default_factory=_default_database_url)
    leads_api_token: str = ""
    storefront_token: str = ""
    rasa_port: int = 5005
    actions_port: int = 5055
    web_port: int = 8000
    web_host: str = "127.0.0.1"
    catalog_path: Path = PROJECT_ROOT / "bot" / "catalog" / "demo.yml"
    # Exchange rates to compare budgets in other currencies with the shop's prices.
    rates_path: Path = PROJECT_ROOT / "bot" / "catalog" / "rates.yml"
    flows_dir: Path = PROJECT_ROOT / "data" / "flows"
    spool_dir: Path = VAR_DIR / "spool"
    scoring_config_path: Path = PROJECT_ROOT / "bot" / "scoring" / "default.yml"
    shop_currency: str = "EUR"
    # How phone numbers written without "+" are read (ISO 3166 alpha-2).
    shop_country: str = "FR"
    # Rasa's conversation store: read for data exports, erased with the lead.
    tracker_store_url: str = field(default_factory=lambda: f"sqlite:///{VAR_DIR / 'tracker.db'}")
    # Requests per minute and client address on the public endpoints (0: no limit).
    form_rate_limit: int = 10
    events_rate_limit: int = 6000
    # Failed sign-ins at /login per client address and minute (0: no limit).
    login_rate_limit: int = 10
    # Redis shared by every web app of a deployment for the limits above ("": each
    # process counts alone); keys are "<prefix><limit>:<address>".
    rate_limit_redis_url: str = ""
    rate_limit_prefix: str = "storefront:ratelimit:"
    # Longest wait for that Redis; past it (or when it is down) a process counts alone.
    rate_limit_redis_timeout_ms: int = 200
    # Hosts a web form may send the shopper back to, besides PUBLIC_URL's.
    form_redirect_hosts: tuple[str, ...] = ()
    handoff_config_path: Path = PROJECT_ROOT / "bot" / "handoff" / "default.yml"
    followups_config_path: Path = PROJECT_ROOT / "bot" / "followups" / "default.yml"
    # Seconds between the outbox worker's follow-up planning rounds (each up to a second).
    followups_plan_every_seconds: int = 10
    # IANA zone of shoppers whose location names no country ("": SHOP_COUNTRY's main zone).
    shop_timezone: str = ""
    # Base of the links in notifications (lead page, acknowledge); defaults to this machine.
    public_url: str = ""
    # Signs lead-page sessions and acknowledgement links.
    session_secret: str = ""
    handoff_webhook_url: str = ""
    handoff_webhook_secret: str = ""
    # Secrets that sign the shop platform's order webhook (POST /api/v2/orders): the
    # endpoint answers 404 without one; several are accepted while the shop rotates.
    order_webhook_secrets: tuple[str, ...] = ()
    # How far an order webhook's webhook-timestamp may be from this server's clock.
    order_webhook_tolerance_seconds: int = 300
    handoff_slack_webhook_url: str = ""
    handoff_email_to: str = ""
    smtp_host: str = ""
    smtp_port: int = 0
    # Origins of the shop pages that embed the widget and tracking snippet ("*": any).
    shop_origins: tuple[str, ...] = ("*",)
    # Where shoppers' browsers reach the Rasa server; defaults to PUBLIC_URL's host.
    rasa_public_url: str = ""
    # The demo shop at "/" (switch off where the web app serves a real shop's widget).
    demo_shop: bool = True
    # Shared by the Rasa server and the action server, which answers no one else.
    actions_token: str = ""
    # How long the action server waits for a locked lead store before spooling a turn's writes.
    actions_store_wait_ms: int = 2000
    # Written by `make run`'s supervisor (children's state and restarts), shown by /healthz.
    supervisor_status_file: Path = VAR_DIR / "run" / "supervisor.json"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Build settings from ``environ`` (defaults to ``os.environ``)."""
        env = dict(os.environ if environ is None else environ)
        defaults = cls()
        return cls(
            database_url=env.get("DATABASE_URL") or defaults.database_url,
            leads_api_token=env.get("LEADS_API_TOKEN", ""),
            storefront_token=env.get("STOREFRONT_TOKEN", ""),
            rasa_port=_env_int(env, "RASA_PORT", defaults.rasa_port),
            actions_port=_env_int(env, "ACTIONS_PORT", defaults.actions_port),
            web_port=_env_int(env, "WEB_PORT", defaults.web_port),
            web_host=env.get("WEB_HOST") or defaults.web_host,
            catalog_path=Path(env.get("CATALOG_PATH") or defaults.catalog_path),
            rates_path=Path(env.get("RATES_PATH") or defaults.rates_path),
            flows_dir=Path(env.get("FLOWS_DIR") or defaults.flows_dir),
            spool_dir=Path(env.get("LEADS_SPOOL_DIR") or defaults.spool_dir),
            scoring_config_path=Path(env.get("SCORING_CONFIG") or defaults.scoring_config_path),
            shop_currency=(env.get("SHOP_CURRENCY") or defaults.shop_currency).upper(),
            shop_country=(env.get("SHOP_COUNTRY") or defaults.shop_country).upper(),
            tracker_store_url=env.get("TRACKER_STORE_URL") or defaults.tracker_store_url,
            form_rate_limit=_env_int(env, "FORM_RATE_LIMIT", defaults.form_rate_limit),
            events_rate_limit=_env_int(env, "EVENTS_RATE_LIMIT", defaults.events_rate_limit),
            login_rate_limit=_env_int(env, "LOGIN_RATE_LIMIT", defaults.login_rate_limit),
            rate_limit_redis_url=_rate_limit_redis_url(env.get("RATE_LIMIT_REDIS_URL", "")),
            rate_limit_prefix=env.get("RATE_LIMIT_PREFIX") or defaults.rate_limit_prefix,
            rate_limit_redis_timeout_ms=_env_positive_int(
                env,
                "RATE_LIMIT_REDIS_TIMEOUT_MS",
                defaults.rate_limit_redis_timeout_ms,
                unit="milliseconds",
            ),
            form_redirect_hosts=tuple(
                host.strip().lower()
                for host in env.get("FORM_REDIRECT_HOSTS", "").split(",")
                if host.strip()
            ),
            handoff_config_path=Path(env.get("HANDOFF_CONFIG") or defaults.handoff_config_path),
            followups_config_path=Path(
                env.get("FOLLOWUPS_CONFIG") or defaults.followups_config_path
            ),
            followups_plan_every_seconds=_env_positive_int(
                env,
                "FOLLOWUPS_PLAN_EVERY_SECONDS",
                defaults.followups_plan_every_seconds,
                unit="seconds",
            ),
            shop_timezone=env.get("SHOP_TIMEZONE", "").strip(),
            public_url=(
                env.get("PUBLIC_URL")
                or f"http://localhost:{_env_int(env, 'WEB_PORT', defaults.web_port)}"
            ).rstrip("/"),
            session_secret=env.get("SESSION_SECRET", ""),
            handoff_webhook_url=env.get("HANDOFF_WEBHOOK_URL", ""),
            handoff_webhook_secret=env.get("HANDOFF_WEBHOOK_SECRET", ""),
            order_webhook_secrets=_webhook_secrets(
                "ORDER_WEBHOOK_SECRETS", env.get("ORDER_WEBHOOK_SECRETS", "")
            ),
            order_webhook_tolerance_seconds=_env_positive_int(
                env,
                "ORDER_WEBHOOK_TOLERANCE_SECONDS",
                defaults.order_webhook_tolerance_seconds,
                unit="seconds",
            ),
            handoff_slack_webhook_url=env.get("HANDOFF_SLACK_WEBHOOK_URL", ""),
            handoff_email_to=env.get("HANDOFF_EMAIL_TO", ""),
            smtp_host=env.get("SMTP_HOST", ""),
            smtp_port=_env_int(env, "SMTP_PORT", 0),
            shop_origins=_shop_origins(env.get("SHOP_ORIGINS", "")),
            rasa_public_url=(
                env.get("RASA_PUBLIC_URL")
                or _sibling_url(
                    env.get("PUBLIC_URL") or "http://localhost",
                    _env_int(env, "RASA_PORT", defaults.rasa_port),
                )
            ).rstrip("/"),
            demo_shop=env.get("DEMO_SHOP", "1").strip().lower() not in ("0", "false", "no", "off"),
            actions_token=env.get("ACTIONS_TOKEN", ""),
            actions_store_wait_ms=_env_positive_int(
                env, "ACTIONS_STORE_WAIT_MS", defaults.actions_store_wait_ms, unit="milliseconds"
            ),
            supervisor_status_file=Path(
                env.get("SUPERVISOR_STATUS_FILE") or defaults.supervisor_status_file
            ),
        )

    @property
    def cors_origins(self) -> tuple[str, ...]:
        """Origins whose pages may call the chat and events APIs (this web app's own included)."""
        if "*" in self.shop_origins:
            return ("*",)
        own = (origin_of(self.public_url),) if self.public_url else ()
        return tuple(dict.fromkeys((*self.shop_origins, *own)))

    @property
    def signing_key(self) -> bytes:
        """Key of lead-page sessions and acknowledgement links.

        ``SESSION_SECRET`` (``make run`` generates and keeps one); without it the
        API token stands in, so every process of one deployment agrees.
        """
        return (self.session_secret or self.leads_api_token).encode()

    def masked(self) -> dict[str, str]:
        """Settings as strings with secrets hidden, safe to print or log."""
        shown: dict[str, str] = {}
        for item in fields(self):
            value = str(getattr(self, item.name))
            if item.name in ("database_url", "tracker_store_url", "rate_limit_redis_url"):
                value = mask_url_password(value)
            elif item.name in SECRET_FIELDS and value:
                value = value[:4] + "…"
            shown[item.name] = value
        return shown

    def __repr__(self) -> str:
        inner = ", ".join(f"{key}={value!r}" for key, value in self.masked().items())
        return f"Settings({inner})"
