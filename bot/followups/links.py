"""Signed links in follow-ups: one-click unsubscribe, and click tracking that leads to the shop.

Both are HMAC-SHA256 signatures with the deployment's signing key
(``SESSION_SECRET``), each with its own purpose prefix so a signature made for
one use is worth nothing for the other (or for the lead pages' links).

- ``/u/{lead_id}.{signature}``: the unsubscribe link (GET: a confirmation page,
  POST: RFC 8058 one-click); it names the lead, as consent is the lead's.
- ``/c/{followup_id}.{signature}?to=URL``: a tracked link; the signature covers
  the follow-up and the exact URL, and the URL must be on the shop's site, so
  the redirect can never be pointed elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

_UNSUBSCRIBE = "followups-unsubscribe"
_CLICK = "followups-click"
_TOKEN = re.compile(r"^([0-9a-zA-Z_-]{1,64})\.([0-9a-f]{32})$")


def _sign(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\x00".join(parts).encode(), hashlib.sha256).hexdigest()[:32]


def _verify(key: bytes, token: str, purpose: str, *extra: str) -> str | None:
    match = _TOKEN.match(token)
    if match is None:
        return None
    subject, signature = match.groups()
    expected = _sign(key, purpose, subject, *extra)
    return subject if hmac.compare_digest(expected, signature) else None


def unsubscribe_token(key: bytes, lead_id: str) -> str:
    """The token of a lead's unsubscribe link."""
    return f"{lead_id}.{_sign(key, _UNSUBSCRIBE, lead_id)}"


def unsubscribed_lead(key: bytes, token: str) -> str | None:
    """The lead an unsubscribe token was made for; ``None`` if forged or malformed."""
    return _verify(key, token, _UNSUBSCRIBE)


def click_token(key: bytes, followup_id: str, url: str) -> str:
    """The token of a tracked link to ``url`` in a follow-up."""
    return f"{followup_id}.{_sign(key, _CLICK, followup_id, url)}"


def clicked_followup(key: bytes, token: str, url: str) -> str | None:
    """The follow-up a click token was made for with exactly ``url``; ``None`` otherwise."""
    return _verify(key, token, _CLICK, url)


def same_site(url: str, shop_url: str) -> bool:
    """Whether ``url`` is an http(s) URL on the shop's scheme and host (and port)."""
    target, shop = urlsplit(url), urlsplit(shop_url)
    return (
        target.scheme in ("http", "https")
        and (target.scheme, target.netloc.lower()) == (shop.scheme, shop.netloc.lower())
        and not target.username
        and not target.password
    )


@dataclass(frozen=True)
class Links:
    """Builds the links of one follow-up: the shop's pages (tracked) and the unsubscribe link."""

    key: bytes
    public_url: str  # this web app, which serves /u/ and /c/
    shop_url: str  # the shop's site, where tracked links lead
    product_path: str
    cart_path: str
    followup_id: str

    def tracked(self, url: str) -> str:
        """``url`` through the click-tracking redirect."""
        token = click_token(self.key, self.followup_id, url)
        return f"{self.public_url}/c/{token}?{urlencode({'to': url})}"

    def product(self, product_id: str) -> str:
        """The tracked link to a product's page."""
        return self.tracked(self.shop_url + self.product_path.format(product_id=product_id))

    def cart(self) -> str:
        """The tracked link to the shopper's cart."""
        return self.tracked(self.shop_url + self.cart_path)

    def shop(self) -> str:
        """The tracked link to the shop's home page."""
        return self.tracked(self.shop_url + "/")

    def unsubscribe(self, lead_id: str) -> str:
        """The lead's one-click unsubscribe link."""
        return f"{self.public_url}/u/{unsubscribe_token(self.key, lead_id)}"
