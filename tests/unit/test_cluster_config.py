"""The cluster profile's settings, HAProxy file and process list, from the environment."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bot.cluster import (
    Address,
    ClusterConfig,
    ClusterConfigError,
    ProcessOnly,
    cluster_children,
    haproxy_config,
)
from bot.settings import Settings
from bot.supervisor import Liveness


def test_one_machine_defaults() -> None:
    config = ClusterConfig.from_env({})

    assert config.rasa == (Address("127.0.0.1", 5105), Address("127.0.0.1", 5106))
    assert config.actions == (Address("127.0.0.1", 5155), Address("127.0.0.1", 5156))
    assert config.web == (Address("127.0.0.1", 8100), Address("127.0.0.1", 8101))
    assert (config.chat_port, config.web_port, config.actions_port) == (5005, 8000, 5055)
    assert config.database_url.startswith("postgresql://")
    assert config.tracker_store_url != config.database_url
    assert config.roles == {"haproxy", "rasa", "actions", "web", "consumer"}


def test_counts_and_base_ports() -> None:
    config = ClusterConfig.from_env(
        {"RASA_REPLICAS": "3", "CLUSTER_RASA_BASE_PORT": "6000", "WEB_APPS": "1"}
    )

    assert [member.port for member in config.rasa] == [6000, 6001, 6002]
    assert len(config.web) == 1


def test_several_machines_each_start_their_own_members() -> None:
    env = {
        "CLUSTER_RASA_SERVERS": "10.0.0.2:5105,10.0.0.3:5105",
        "CLUSTER_ACTION_SERVERS": "10.0.0.2:5155",
        "CLUSTER_WEB_SERVERS": "10.0.0.1:8100",
        "CLUSTER_HOST": "10.0.0.2",
        "CLUSTER_ROLES": "rasa,actions",
    }
    config = ClusterConfig.from_env(env)
    children, liveness, _ = cluster_children(
        config, Settings.from_env({}), Path("model.tar.gz"), Path("haproxy.cfg"), Path("/venv/bin")
    )

    assert [child.name for child in children] == ["actions-1", "rasa-1"]
    assert liveness["rasa-1"] == Liveness("10.0.0.2", 5105, "/")
    rasa = children[1].command
    assert rasa[rasa.index("--interface") + 1] == "10.0.0.2"
    assert rasa[rasa.index("--endpoints") + 1] == "endpoints-cluster.yml"


def test_each_web_app_gets_its_own_port() -> None:
    config = ClusterConfig.from_env({"WEB_APPS": "2", "RASA_REPLICAS": "1"})
    children, liveness, _ = cluster_children(
        config, Settings.from_env({}), Path("m"), Path("h"), Path("/venv/bin")
    )
    web = [child for child in children if child.name.startswith("web-")]

    assert [child.env["WEB_PORT"] for child in web] == ["8100", "8101"]
    assert isinstance(liveness["consumer"], ProcessOnly)
    assert children[0].name == "haproxy"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"RASA_REPLICAS": "zero"}, "RASA_REPLICAS"),
        ({"RASA_REPLICAS": "0"}, "RASA_REPLICAS"),
        ({"WEB_PORT": "70000"}, "WEB_PORT"),
        ({"CLUSTER_RASA_SERVERS": "10.0.0.2"}, "CLUSTER_RASA_SERVERS"),
        ({"CLUSTER_RASA_SERVERS": "a:1,a:1"}, "CLUSTER_RASA_SERVERS"),
        ({"CLUSTER_ROLES": "rasa,cron"}, "CLUSTER_ROLES"),
        ({"CLUSTER_HOST": "a b"}, "CLUSTER_HOST"),
        ({"DATABASE_URL": "sqlite:///var/leads.db"}, "DATABASE_URL"),
        ({"TRACKER_STORE_URL": "mysql://x/y"}, "TRACKER_STORE_URL"),
        ({"CLUSTER_ACTION_TIMEOUT": "90"}, "TICKET_LOCK_LIFETIME"),
        ({"CLUSTER_WEB_BASE_PORT": "5105"}, "port 5105"),
    ],
)
def test_a_wrong_setting_is_named(env: dict[str, str], names: str) -> None:
    with pytest.raises(ClusterConfigError, match=names):
        ClusterConfig.from_env(env)


def test_a_password_in_a_wrong_url_is_not_shown() -> None:
    with pytest.raises(ClusterConfigError) as raised:
        ClusterConfig.from_env({"DATABASE_URL": "mysql://shop:s3cret@db/leads"})

    assert "s3cret" not in str(raised.value)


def test_the_processes_share_the_cluster_addresses() -> None:
    config = ClusterConfig.from_env({"ACTIONS_PORT": "6055"})
    env = config.environment({"REDIS_HOST": "redis.internal", "PATH": "/bin"})

    assert env["ACTIONS_URL"] == "http://127.0.0.1:6055/webhook"
    assert env["REDIS_HOST"] == "redis.internal"
    assert env["TRACKER_STORE_DIALECT"] == "postgresql"
    assert env["TRACKER_STORE_URL"] == config.tracker_store_url
    # Rasa's own default pool (50 + 100 per process) would exhaust PostgreSQL.
    assert int(env["SQL_POOL_SIZE"]) + int(env["SQL_MAX_OVERFLOW"]) <= 10


def test_haproxy_pins_a_shopper_by_sender_and_checks_health() -> None:
    text = haproxy_config(ClusterConfig.from_env({}))

    assert "balance hash var(txn.sender)" in text
    assert "url_param(sender)" in text
    assert "json_query('$.sender')" in text
    assert "hash-type consistent" in text
    for line in (
        "server rasa-2 127.0.0.1:5106 check maxconn 8",
        "server actions-1 127.0.0.1:5155 check maxconn 16",
        "server web-2 127.0.0.1:8101 check maxconn 64",
    ):
        assert line in text
    # Past maxconn, requests wait in HAProxy rather than in a Rasa server's event loop.
    assert "timeout queue 30s" in text


def test_a_cluster_rasa_server_is_given_longer_before_it_counts_as_hung() -> None:
    config = ClusterConfig.from_env({})
    _, _, timings = cluster_children(
        config, Settings.from_env({}), Path("m"), Path("h"), Path("/venv/bin")
    )

    rasa = timings["rasa-1"]
    assert rasa.liveness_timeout * rasa.liveness_failures >= 60
    assert timings["actions-1"].liveness_timeout < rasa.liveness_timeout


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_accepts_the_file(tmp_path: Path) -> None:
    path = tmp_path / "haproxy.cfg"
    path.write_text(haproxy_config(ClusterConfig.from_env({"RASA_REPLICAS": "3"})))

    checked = subprocess.run(
        [str(shutil.which("haproxy")), "-c", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_member_port_in_use_is_named_with_its_variable() -> None:
    import socket

    from bot.cluster import ports_in_use

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = ClusterConfig.from_env(
            {"CLUSTER_WEB_BASE_PORT": str(port), "WEB_APPS": "1", "CLUSTER_ROLES": "web"}
        )

        problems = ports_in_use(config)

    assert len(problems) == 1
    assert f"port {port} on 127.0.0.1 (CLUSTER_WEB_BASE_PORT)" in problems[0]
