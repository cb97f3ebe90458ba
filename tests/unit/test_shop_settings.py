"""Settings of the shop integration: allowed origins, the public Rasa URL, the demo shop."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import Settings
from bot.supervisor import build_children


@pytest.mark.parametrize(
    ("environ", "origins"),
    [
        ({}, ("*",)),  # any page may call: the storefront token is the gate
        ({"SHOP_ORIGINS": "*"}, ("*",)),
        (  # listed shops, plus the web app's own demo shop
            {"SHOP_ORIGINS": "https://Shop.example.com/, http://localhost:3000"},
            ("https://shop.example.com", "http://localhost:3000", "http://localhost:8000"),
        ),
        (  # PUBLIC_URL already listed: once
            {"SHOP_ORIGINS": "https://shop.example.com", "PUBLIC_URL": "https://shop.example.com"},
            ("https://shop.example.com",),
        ),
    ],
)
def test_cors_origins(environ: dict[str, str], origins: tuple[str, ...]) -> None:
    assert Settings.from_env(environ).cors_origins == origins


@pytest.mark.parametrize(
    "value",
    [
        "https://shop.example.com/path",  # a URL, not an origin
        "shop.example.com",  # no scheme
        "ftp://shop.example.com",  # not a web page
    ],
)
def test_bad_shop_origins_are_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ValueError, match="SHOP_ORIGINS"):
        Settings.from_env({"SHOP_ORIGINS": value})


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        ({}, "http://localhost:5005"),
        (
            {"RASA_PORT": "6005", "PUBLIC_URL": "https://shop.example.com"},
            "https://shop.example.com:6005",
        ),
        ({"PUBLIC_URL": "http://[::1]:8000"}, "http://[::1]:5005"),
        ({"RASA_PUBLIC_URL": "https://chat.example.com/"}, "https://chat.example.com"),
    ],
)
def test_rasa_public_url(environ: dict[str, str], url: str) -> None:
    assert Settings.from_env(environ).rasa_public_url == url


@pytest.mark.parametrize(("value", "on"), [(None, True), ("1", True), ("0", False), ("off", False)])
def test_demo_shop_switch(value: str | None, on: bool) -> None:
    environ = {} if value is None else {"DEMO_SHOP": value}
    assert Settings.from_env(environ).demo_shop is on


def test_the_rasa_server_allows_the_same_origins(tmp_path: Path) -> None:
    settings = Settings.from_env({"SHOP_ORIGINS": "https://shop.example.com"})
    children = {child.name: child for child in build_children(settings, tmp_path, tmp_path)}
    command = children["rasa"].command
    cors = command[command.index("--cors") + 1 :]
    assert cors == ["https://shop.example.com", "http://localhost:8000"]
    anywhere = build_children(Settings.from_env({}), tmp_path, tmp_path)
    rasa = next(child.command for child in anywhere if child.name == "rasa")
    assert rasa[rasa.index("--cors") :] == ["--cors", "*"]
