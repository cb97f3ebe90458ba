"""The load benchmark's shopper script, its counting of turns and errors, and its report.

The last test runs the real locustfile in Locust (a subprocess, as ``python -m bench load``
does) against a stub chat endpoint on loopback that answers some messages with 500 or an
empty list: every message Locust sends is one sample, and exactly the bad replies are failures.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bench.load import (
    BUDGETS,
    GREETINGS,
    LOCATIONS,
    NAMES,
    QUESTIONS,
    TIMELINES,
    VARIANTS,
    ClusterNotes,
    LeadCheck,
    LevelResult,
    Sample,
    TurnFigures,
    Usage,
    basis,
    cpu_ms_per_turn,
    error_counts,
    format_sample,
    one_more_machine,
    parse_args,
    read_samples,
    render,
    reply_problem,
    role_of,
    shopper_script,
    start_locust,
    stop_locust,
    turn_figures,
    wait_until_spawned,
)


@pytest.mark.parametrize("seed", range(40))
def test_shopper_script_answers_the_flow_in_order(seed: int) -> None:
    script = shopper_script(random.Random(seed), "abc123")
    assert script[0] in GREETINGS
    # consent, then a name, then an email address unique to the conversation
    assert script[-3] == "yes"
    assert script[-2] in NAMES
    assert script[-1].endswith(".abc123@example.com")
    middle = script[1:-3]
    questions = [message for message in middle if message in QUESTIONS]
    answers = [message for message in middle if message not in QUESTIONS]
    assert len(questions) <= 2
    assert len(answers) == 4
    # timeline, variant, location, budget: the order the default flow asks them
    for answer, choices in zip(answers, (TIMELINES, VARIANTS, LOCATIONS, BUDGETS), strict=True):
        assert answer in choices
    # questions come before the budget, never while the bot asks for consent
    assert middle[-1] in BUDGETS


def test_shopper_scripts_vary() -> None:
    scripts = [tuple(shopper_script(random.Random(seed), "x")) for seed in range(40)]
    assert len(set(scripts)) > 30
    # some shoppers ask questions in between, some do not
    lengths = {len(script) for script in scripts}
    assert {8, 9, 10} <= lengths


@pytest.mark.parametrize(
    ("status", "body", "error", "expected"),
    [
        # the bot's messages: an answer
        (200, '[{"recipient_id": "s", "text": "When are you planning to buy?"}]', "", None),
        # an image or buttons without text still count as a reply
        (200, '[{"recipient_id": "s", "image": "https://x/y.png"}]', "", None),
        # Rasa answered nothing
        (200, "[]", "", "empty reply"),
        # not what the REST channel returns
        (200, "<html>", "", "reply is not JSON"),
        (200, '{"text": "hi"}', "", "reply is not a list of messages"),
        # HAProxy or Rasa failed
        (502, "", "", "HTTP 502"),
        (500, "[]", "", "HTTP 500"),
        # no connection at all (status 0), with the client's exception
        (0, "", "ConnectionRefusedError(111)", "HTTP 0: ConnectionRefusedError(111)"),
    ],
)
def test_reply_problem(status: int, body: str, error: str, expected: str | None) -> None:
    assert reply_problem(status, body, error) == expected


def test_samples_round_trip(tmp_path: Path) -> None:
    samples = [
        Sample(1700000000.25, 12.5, True, "id-1"),
        # tabs and newlines in an error cannot break the line format
        Sample(1700000001.5, 3.0, False, "id-2", "HTTP 0: Error('a\tb\nc')"),
    ]
    path = tmp_path / "samples"
    path.write_text("".join(format_sample(sample) for sample in samples), encoding="utf-8")
    read = read_samples(path)
    assert read[0] == samples[0]
    assert read[1] == Sample(1700000001.5, 3.0, False, "id-2", "HTTP 0: Error('a b c')")
    # no file: Locust wrote nothing
    assert read_samples(tmp_path / "missing") == []


def test_turn_figures_count_only_the_window() -> None:
    samples = [
        # before the window
        Sample(99.9, 5000.0, True, "a"),
        Sample(99.0, 1.0, False, "b", "HTTP 502"),
        # inside: 100 answered turns of 1..100 ms and two failures
        *(
            Sample(100.0 + index / 10, float(index + 1), True, f"in-{index}")
            for index in range(100)
        ),
        Sample(105.0, 9999.0, False, "c", "empty reply"),
        Sample(109.99, 1.0, False, "d", "HTTP 504"),
        # the window's end is not inside
        Sample(110.0, 7000.0, True, "e"),
    ]
    figures = turn_figures(samples, 100.0, 110.0)
    assert figures == TurnFigures(
        turns=100,
        errors=2,
        turns_per_second=10.0,
        # latency of answered turns only (failures are counted, not timed)
        p50_ms=50.5,
        p99_ms=99.0,
        max_ms=100.0,
    )
    assert error_counts(samples) == {"HTTP 502": 1, "empty reply": 1, "HTTP 504": 1}


def test_turn_figures_of_a_window_without_answers() -> None:
    figures = turn_figures([Sample(5.0, 10.0, False, "a", "HTTP 503")], 0.0, 10.0)
    assert (figures.turns, figures.errors, figures.p50_ms, figures.turns_per_second) == (
        0,
        1,
        0.0,
        0.0,
    )
    with pytest.raises(ValueError, match="end after it starts"):
        turn_figures([], 10.0, 10.0)


@pytest.mark.parametrize(
    ("name", "role"),
    [("rasa-1", "rasa"), ("rasa-12", "rasa"), ("actions-2", "actions"), ("haproxy", "haproxy")],
)
def test_role_of(name: str, role: str) -> None:
    assert role_of(name) == role


def test_cpu_per_turn_sums_the_members_of_a_role() -> None:
    usage = [
        Usage("rasa-1", 3.0, 900.0),
        Usage("rasa-2", 1.0, 880.0),
        Usage("actions-1", 0.5, 170.0),
        Usage("haproxy", 0.1, 15.0),
    ]
    assert cpu_ms_per_turn(usage, 200) == {"rasa": 20.0, "actions": 2.5, "haproxy": 0.5}
    # no answered turn: nothing to divide by
    assert cpu_ms_per_turn(usage, 0) == {"rasa": 0.0, "actions": 0.0, "haproxy": 0.0}


def test_one_more_machine_from_the_cpu_per_turn() -> None:
    per_turn = {"rasa": 30.0, "actions": 10.0, "haproxy": 1.0, "postgres": 6.0, "consumer": 3.0}
    estimate = one_more_machine(per_turn, 2)
    assert estimate is not None
    # 2,000 CPU-ms per second over 40 ms a turn
    assert estimate.turns_per_second == 50.0
    assert estimate.rasa_actions_ms_per_turn == 40.0
    # the central machine pays 10 ms for each of those 50 turns: half a core
    assert (estimate.central_ms_per_turn, estimate.central_cores) == (10.0, 0.5)
    assert one_more_machine({"haproxy": 1.0}, 2) is None


def _result(replicas: int, users: int, turns_per_second: float, errors: int = 0) -> LevelResult:
    per_turn = {"rasa": 20.0, "actions": 5.0, "haproxy": 0.5, "postgres": 4.0, "consumer": 2.0}
    usage = [Usage(f"rasa-{index}", 1.0, 890.0) for index in range(1, replicas + 1)]
    usage += [Usage("haproxy", 0.1, 15.0), Usage("locust", 0.2, 50.0)]
    return LevelResult(
        replicas=replicas,
        users=users,
        window_seconds=60.0,
        turns=TurnFigures(int(turns_per_second * 60), 0, turns_per_second, 80.0, 300.0, 500.0),
        run_turns=int(turns_per_second * 80),
        run_errors=errors,
        errors_by_kind={"HTTP 504": errors} if errors else {},
        usage=usage,
        cpu_ms_per_turn=per_turn,
        machine_busy_percent=87.0,
        load_average_before=(0.5, 0.4, 0.3),
        locust_exit_code=0,
        estimate=one_more_machine(per_turn, 2),
        consumer_backlog=12,
    )


def test_basis_is_the_fullest_error_free_run_with_most_replicas() -> None:
    runs = [_result(1, 200, 60.0), _result(2, 50, 45.0), _result(2, 200, 70.0, errors=3)]
    chosen = basis(runs)
    assert chosen is not None
    assert (chosen.replicas, chosen.users) == (2, 50)
    # every run had errors: the fullest one is still stated
    only_failed = basis([_result(1, 10, 9.0, errors=1), _result(1, 50, 40.0, errors=2)])
    assert only_failed is not None and only_failed.users == 50
    assert basis([]) is None


def test_render_lists_every_run_memory_and_the_estimate() -> None:
    runs = [_result(1, 10, 10.0), _result(2, 200, 70.0, errors=3)]
    clusters = [ClusterNotes(1, 0, LeadCheck(leads=30, four_answers=20, contact_details=12))]
    text = render(
        runs, clusters, machine="2 cores", action_servers=2, web_apps=1, ramp=10, settle=10
    )
    assert "| 1 | 10 | 10 | 10.0 | 80 | 300 | 0 / 0 | 20.0 | 5.0 | 0.5 | 4.0 | 2.0 |" in text
    assert "| 2 | 200 | 200 | 70.0 | 80 | 300 | 0 / 3 |" in text
    assert "| 87 % | 12 |" in text
    # one replica has no rasa-2 to show
    assert "| 1 | 10 | 15 | 890 | — | — | — | — | — | 50 |" in text
    # the estimate names its basis: the only error-free run
    assert "add about **80 turns/s**" in text
    assert "measured with 1 replica(s) and 10 shoppers" in text
    assert "30 leads, 20 with all four core answers, 12 with contact details" in text
    assert "- HTTP 504: 3" in text


def test_render_shows_no_cpu_for_a_restarted_kind_of_process() -> None:
    run = _result(1, 200, 12.0, errors=5)
    per_turn = {role: ms for role, ms in run.cpu_ms_per_turn.items() if role != "rasa"}
    restarted = replace(run, cpu_ms_per_turn=per_turn, restarted=["rasa-1"])
    text = render([restarted], [], machine="2", action_servers=2, web_apps=1, ramp=10, settle=10)
    assert "| 0 / 5 | — | 5.0 | 0.5 |" in text
    assert "during the window (their CPU is not shown): 1 replica(s), 200 shoppers: rasa-1." in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--users", "0"], "--users"),
        (["--users", "ten"], "--users"),
        (["--replicas", ""], "--replicas"),
        (["--window", "0"], "--window"),
        (["--settle", "-1"], "--settle"),
        (["--action-servers", "0"], "--action-servers"),
    ],
)
def test_bad_options_are_named(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert message in capsys.readouterr().err


def test_options() -> None:
    args = parse_args([])
    assert (args.replicas, args.users, args.window) == ((1, 2), (10, 50, 200), 60.0)
    quick = parse_args(["--quick"])
    assert (quick.replicas, quick.users, quick.window) == ((1,), (10,), 5.0)
    chosen = parse_args(["--quick", "--replicas", "2", "--users", "3,7"])
    assert (chosen.replicas, chosen.users) == ((2,), (3, 7))


class _StubChat(BaseHTTPRequestHandler):
    """Answers the REST channel; every 4th message gets a 500, every 4th an empty list."""

    received: list[dict[str, Any]]
    verdicts: dict[str, bool]
    lock: threading.Lock

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            number = len(self.received)
            self.received.append(body)
            self.verdicts[body["message_id"]] = number % 4 in (0, 2)
        if number % 4 == 1:
            status, reply = 500, b'{"error": "stub"}'
        elif number % 4 == 3:
            status, reply = 200, b"[]"
        else:
            status = 200
            reply = json.dumps([{"recipient_id": body["sender"], "text": "ok"}]).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def stub_chat() -> Iterator[tuple[str, type[_StubChat]]]:
    handler = type("Stub", (_StubChat,), {"received": [], "verdicts": {}, "lock": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_locust_shoppers_drive_the_chat_and_count_failures(
    tmp_path: Path, stub_chat: tuple[str, type[_StubChat]]
) -> None:
    url, stub = stub_chat
    samples_path, ready = tmp_path / "samples", tmp_path / "ready"
    locust = start_locust(
        url,
        users=3,
        spawn_rate=3,
        samples=samples_path,
        ready=ready,
        log=tmp_path / "locust.log",
        seed=7,
    )
    try:
        spawned = wait_until_spawned(locust, ready, timeout=60)
        # each shopper sends a message a second: about nine more
        while time.time() < spawned + 3:
            time.sleep(0.1)
    finally:
        exit_code = stop_locust(locust)
    samples = read_samples(samples_path)
    log = (tmp_path / "locust.log").read_text()
    assert len(samples) >= 6, log
    # every sample is a message the stub answered, judged as the stub answered it
    for sample in samples:
        assert sample.ok == stub.verdicts[sample.message_id]
        assert sample.error in ("", "HTTP 500", "empty reply")
    assert {sample.error for sample in samples} == {"", "HTTP 500", "empty reply"}
    # Locust's own statistics saw the failures too: it exits with 1
    assert exit_code == 1, log
    # three shoppers, each its own sender, each message with its own id
    bodies = stub.received
    assert len({body["message_id"] for body in bodies}) == len(bodies)
    by_sender: dict[str, list[str]] = {}
    for body in bodies:
        by_sender.setdefault(body["sender"], []).append(body["message"])
    assert len(by_sender) == 3
    for messages in by_sender.values():
        # a conversation opens with a greeting, then the timeline (or a question)
        assert messages[0] in GREETINGS
        assert messages[1] in TIMELINES + QUESTIONS
