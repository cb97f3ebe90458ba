"""Funnel analytics of the question flows, on scripted conversations with known drop-offs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from bot.cli import main
from bot.flows import Flow, Question
from bot.flows.analytics import (
    FunnelReport,
    QuestionRow,
    funnel,
    render_funnel,
    write_funnel_chart,
)
from bot.leads import LeadService
from bot.leads.commands import RecordEvent
from bot.settings import Settings
from bot.store.models import Lead
from bot.store.sales import SalesDesk
from bot.web import create_app

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOKEN = "funnel-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# Each shopper's events in order: (type, properties). ``ask(key, variant)`` is a
# first ask, ``reask(key)`` the re-ask the form writes with its question_reasked.


def ask(key: str, variant: int | None = 0, flow: str | None = "default") -> tuple[str, Any]:
    props: dict[str, Any] = {"question": key, "reask": False}
    if flow is not None:  # older rows carry neither flow nor variant
        props.update(flow=flow, variant=variant)
    return ("question_asked", props)


def reask(key: str) -> list[tuple[str, Any]]:
    return [
        ("question_reasked", {"key": key}),
        ("question_asked", {"question": key, "reask": True, "flow": "default", "variant": None}),
    ]


def answer(key: str, seconds: float | None = None, *, volunteered: bool = False) -> tuple[str, Any]:
    props: dict[str, Any] = {"key": key}
    if seconds is not None:
        props["seconds_to_answer"] = seconds
    if volunteered:
        props["volunteered"] = True
    return ("question_answered", props)


COMPLETED = ("qualification_completed", {})
SHOPPERS: dict[str, list[tuple[str, Any]]] = {
    # Answers everything, becomes hot.
    "complete": [
        ask("timeline"),
        answer("timeline", 4.0),
        ask("variant"),
        answer("variant", 6.0),
        ask("location"),
        answer("location", 10.0),
        ask("budget"),
        answer("budget", 8.0),
        COMPLETED,
    ],
    # Leaves at budget after a re-ask.
    "drops-at-budget": [
        ask("timeline"),
        answer("timeline", 2.0),
        ask("variant"),
        answer("variant", 3.0),
        ask("location"),
        answer("location", 5.0),
        ask("budget"),
        *reask("budget"),
    ],
    # Sees timeline prompt 2, skips location, completes, becomes Won.
    "skips-location": [
        ask("timeline", 1),
        answer("timeline", 6.0),
        ask("variant"),
        answer("variant", 4.0),
        ask("location"),
        ("question_skipped", {"key": "location"}),
        ask("budget"),
        answer("budget", 12.0),
        COMPLETED,
    ],
    # Gives the timeline unasked, then leaves at location.
    "volunteers-timeline": [
        ask("variant"),
        answer("variant", 3.0),
        answer("timeline", volunteered=True),
        ask("location"),
    ],
    # Sees timeline prompt 2, leaves at variant.
    "drops-at-variant": [
        ask("timeline", 1),
        answer("timeline", 8.0),
        ask("variant"),
    ],
    # Older events without flow/variant; the bot gives up on the timeline.
    "legacy": [
        ask("timeline", flow=None),
        ("question_reasked", {"key": "timeline"}),
        ("question_asked", {"question": "timeline", "reask": True}),
        ("question_unanswered", {"key": "timeline"}),
        ask("variant", flow=None),
        answer("variant", 7.0),
        ask("location", flow=None),
        answer("location"),
        ask("budget", flow=None),
        answer("budget", 9.0),
        COMPLETED,
    ],
    # Another flow.
    "spring": [ask("timeline", 0, flow="spring"), answer("timeline", 1.0)],
}


def start_of(session: str) -> datetime:
    """Shoppers one hour apart, in SHOPPERS order."""
    return T0 + timedelta(hours=list(SHOPPERS).index(session))


@pytest.fixture
def scripted(engine: Engine) -> dict[str, str]:
    """Write the conversations; the lead id of each shopper."""
    commands = [
        RecordEvent(
            session_id=session,
            event_id=f"{session}:{index}",
            type=kind,
            ts=start_of(session) + timedelta(minutes=index),
            properties=props,
        )
        for session, events in SHOPPERS.items()
        for index, (kind, props) in enumerate(events)
    ]
    # Noise the funnel must ignore.
    commands.append(RecordEvent(session_id="complete", event_id="chat", type="chat_message", ts=T0))
    LeadService(engine).apply(commands)
    leads = Lead.__table__
    with engine.begin() as connection:
        ids = dict(connection.execute(select(leads.c.session_id, leads.c.id)).all())
        connection.execute(update(leads).where(leads.c.id == ids["complete"]).values(stage="hot"))
    SalesDesk(engine).set_status(ids["skips-location"], "Won", by="rep", reason=None, now=T0)
    return ids


def questions(report: FunnelReport, flow: str = "default") -> dict[str, QuestionRow]:
    found = next(f for f in report.flows if f.name == flow)
    return {question.key: question for question in found.questions}


def counts(row: Any) -> dict[str, Any]:
    return {
        name: value
        for name, value in row.counts.as_dict().items()
        if name not in ("hot_rate", "won_rate")
    }


def test_funnel_counts_on_scripted_conversations(engine: Engine, scripted: dict[str, str]) -> None:
    report = funnel(engine)
    assert [flow.name for flow in report.flows] == ["default", "spring"]
    default = report.flows[0]
    assert (default.leads, default.completed) == (6, 3)
    # Without a flows file: first-asked order.
    assert [q.key for q in default.questions] == ["timeline", "variant", "location", "budget"]
    rows = questions(report)
    zero = dict.fromkeys(("volunteered", "skipped", "reasked", "unanswered", "dropped"), 0)
    assert counts(rows["timeline"]) == {
        **zero,
        "asked": 5,
        "answered": 4,
        "volunteered": 1,
        "reasked": 1,
        "unanswered": 1,
        "median_seconds_to_answer": 5.0,  # 2, 4, 6, 8
        "hot": 1,
        "won": 1,
    }
    assert counts(rows["variant"]) == {
        **zero,
        "asked": 6,
        "answered": 5,
        "dropped": 1,
        "median_seconds_to_answer": 4.0,  # 3, 3, 4, 6, 7
        "hot": 1,
        "won": 1,
    }
    assert counts(rows["location"]) == {
        **zero,
        "asked": 5,
        "answered": 3,
        "skipped": 1,
        "dropped": 1,
        "median_seconds_to_answer": 7.5,  # 5, 10 (the legacy answer has no time)
        "hot": 1,
        "won": 1,
    }
    assert counts(rows["budget"]) == {
        **zero,
        "asked": 4,
        "answered": 3,
        "reasked": 1,
        "dropped": 1,
        "median_seconds_to_answer": 9.0,  # 8, 9, 12
        "hot": 1,
        "won": 1,
    }
    assert rows["budget"].counts.hot_rate == 0.25
    assert questions(report, "spring")["timeline"].counts.answered == 1


def test_arms_are_the_prompt_variants_with_their_conversion(
    engine: Engine, scripted: dict[str, str]
) -> None:
    arms = {arm.label: arm for arm in questions(funnel(engine))["timeline"].arms}
    assert list(arms) == ["v1", "v2", "-"]
    v1, v2, unknown = arms["v1"].counts, arms["v2"].counts, arms["-"].counts
    assert (v1.asked, v1.answered, v1.median_seconds_to_answer) == (2, 2, 3.0)
    assert (v1.hot, v1.won, v1.hot_rate, v1.won_rate) == (1, 0, 0.5, 0.0)
    assert (v2.asked, v2.answered, v2.median_seconds_to_answer) == (2, 2, 7.0)
    assert (v2.hot, v2.won, v2.hot_rate, v2.won_rate) == (0, 1, 0.0, 0.5)
    # The legacy lead (no variant recorded) and the one who volunteered the answer.
    assert (unknown.asked, unknown.unanswered, unknown.volunteered) == (1, 1, 1)
    assert arms["v2"].as_dict()["arm"] == "v2" and arms["v2"].as_dict()["variant"] == 1


def test_named_ab_arms_are_counted_by_name(engine: Engine) -> None:
    def asked(arm: str, variant: int, test: str = "budget-wording") -> dict[str, Any]:
        return {
            "question": "budget",
            "reask": False,
            "flow": "default",
            "arm": arm,
            "variant": variant,
            "ab_test": test,
        }

    shoppers = {
        # Arm "soft" has two wordings: one row for the arm, not one per wording.
        "a": [asked("soft", 0), {"key": "budget", "seconds_to_answer": 4.0}],
        "b": [asked("soft", 1), {"key": "budget", "seconds_to_answer": 8.0}],
        "c": [asked("direct", 0)],
        # A later test reusing an arm name is counted apart.
        "d": [asked("soft", 0, test="budget-wording-2")],
    }
    commands = []
    for session, (ask_props, *rest) in shoppers.items():
        commands.append(
            RecordEvent(
                session_id=session,
                event_id=f"{session}:0",
                type="question_asked",
                ts=T0,
                properties=ask_props,
            )
        )
        for answered in rest:
            commands.append(
                RecordEvent(
                    session_id=session,
                    event_id=f"{session}:1",
                    type="question_answered",
                    ts=T0 + timedelta(seconds=5),
                    properties=answered,
                )
            )
    LeadService(engine).apply(commands)
    arms = {arm.label: arm.counts for arm in questions(funnel(engine))["budget"].arms}
    assert list(arms) == ["budget-wording-2/soft", "budget-wording/direct", "budget-wording/soft"]
    soft = arms["budget-wording/soft"]
    assert (soft.asked, soft.answered, soft.median_seconds_to_answer) == (2, 2, 6.0)
    assert (arms["budget-wording/direct"].asked, arms["budget-wording/direct"].dropped) == (1, 1)
    assert arms["budget-wording-2/soft"].asked == 1


def test_a_merged_lead_converts_with_its_survivor(engine: Engine, scripted: dict[str, str]) -> None:
    leads = Lead.__table__
    with engine.begin() as connection:
        connection.execute(
            update(leads)
            .where(leads.c.id == scripted["drops-at-variant"])
            .values(merged_into=scripted["skips-location"])
        )
    v2 = next(arm for arm in questions(funnel(engine))["timeline"].arms if arm.label == "v2")
    assert (v2.counts.asked, v2.counts.won) == (2, 2)


def test_time_window_and_flow_filter(engine: Engine, scripted: dict[str, str]) -> None:
    since, until = start_of("drops-at-budget"), start_of("volunteers-timeline")
    report = funnel(engine, since=since, until=until)
    assert (report.since, report.until) == (since, until)
    default = report.flows[0]
    assert [f.name for f in report.flows] == ["default"]
    assert (default.leads, default.completed) == (2, 1)
    rows = questions(report)
    assert (rows["timeline"].counts.asked, rows["budget"].counts.dropped) == (2, 1)

    # A window that cuts a conversation shows it as dropped where it was cut.
    cut = funnel(engine, until=T0 + timedelta(minutes=2, seconds=30))
    assert questions(cut)["variant"].counts.dropped == 1

    spring = funnel(engine, flow="spring")
    assert [f.name for f in spring.flows] == ["spring"] and spring.flow == "spring"
    assert spring.flows[0].leads == 1
    assert funnel(engine, flow="nope").flows == ()


def test_questions_follow_the_flows_file(engine: Engine, scripted: dict[str, str]) -> None:
    def question(key: str) -> Question:
        return Question(key=key, answer_type="timeline", prompts=("?",), why="w", reask="r")

    order = [Flow(name="default", questions=(question("budget"), question("timeline")))]
    report = funnel(engine, order=order)
    # Listed ones first, then the rest in first-asked order.
    assert [q.key for q in report.flows[0].questions] == [
        "budget",
        "timeline",
        "variant",
        "location",
    ]


def test_text_json_and_chart(engine: Engine, scripted: dict[str, str], tmp_path: Path) -> None:
    report = funnel(engine)
    text = render_funnel(report)
    assert "Flow default: 6 leads asked, 3 completed (50%)" in text
    timeline = next(line for line in text.splitlines() if line.strip().startswith("timeline"))
    assert timeline.split() == ["timeline", "5", "4", "1", "0", "1", "1", "0", "5.0", "20%", "20%"]
    assert any(line.split()[:3] == ["v2", "2", "2"] for line in text.splitlines())
    data = json.loads(json.dumps(report.as_dict()))
    assert data["flows"][0]["questions"][3]["key"] == "budget"
    assert data["flows"][0]["questions"][3]["dropped"] == 1
    chart = write_funnel_chart(report, tmp_path / "charts" / "funnel.png")
    assert chart.read_bytes().startswith(PNG_MAGIC) and chart.stat().st_size > 1000


def test_empty_report_renders(engine: Engine, tmp_path: Path) -> None:
    report = funnel(engine)
    assert report.flows == ()
    assert "no questions asked" in render_funnel(report)
    assert write_funnel_chart(report, tmp_path / "empty.png").read_bytes().startswith(PNG_MAGIC)


def test_cli_flows_report(
    database_url: str,
    scripted: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    chart = tmp_path / "funnel.png"
    assert main(["flows", "report", "--json", "--chart", str(chart)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["chart"] == str(chart) and chart.read_bytes().startswith(PNG_MAGIC)
    default = data["flows"][0]
    # The flows file (data/flows/default.yml) gives the order.
    assert [q["key"] for q in default["questions"]] == ["timeline", "variant", "location", "budget"]
    assert default["questions"][0]["asked"] == 5

    since = start_of("drops-at-budget").isoformat()
    assert (
        main(["flows", "report", "--since", since, "--flow", "default", "--chart", str(chart)]) == 0
    )
    out = capsys.readouterr().out
    assert "Flow default: 5 leads asked, 2 completed (40%)" in out and f"chart: {chart}" in out
    with pytest.raises(SystemExit):
        main(["flows", "report", "--since", "yesterday"])


@pytest.fixture
async def client(
    database_url: str, scripted: dict[str, str], tmp_path: Path
) -> AsyncIterator[TestClient]:
    settings = replace(
        Settings(), database_url=database_url, leads_api_token=TOKEN, spool_dir=tmp_path / "spool"
    )
    async with TestClient(TestServer(create_app(settings))) as test_client:
        yield test_client


async def test_api_report(client: TestClient) -> None:
    response = await client.get("/api/v2/flows/report", headers=AUTH)
    assert response.status == 200
    data = await response.json()
    assert [f["flow"] for f in data["flows"]] == ["default", "spring"]
    timeline = data["flows"][0]["questions"][0]
    assert (timeline["key"], timeline["asked"], timeline["median_seconds_to_answer"]) == (
        "timeline",
        5,
        5.0,
    )
    assert [arm["arm"] for arm in timeline["arms"]] == ["v1", "v2", "-"]

    response = await client.get(
        "/api/v2/flows/report",
        params={"since": "2026-11-23T11:00:00Z", "until": "2026-11-23T13:00:00+00:00"},
        headers=AUTH,
    )
    data = await response.json()
    assert data["since"] == "2026-11-23T11:00:00+00:00" and data["flows"][0]["leads"] == 2
    response = await client.get("/api/v2/flows/report?flow=spring", headers=AUTH)
    assert [f["flow"] for f in (await response.json())["flows"]] == ["spring"]


async def test_api_report_errors(client: TestClient) -> None:
    response = await client.get("/api/v2/flows/report")
    assert response.status == 401
    response = await client.get("/api/v2/flows/report?since=2026-11-23", headers=AUTH)
    assert response.status == 400
    assert "'since'" in (await response.json())["error"]["message"]
    response = await client.get("/api/v2/flows/report?until=soon", headers=AUTH)
    assert response.status == 400 and "'until'" in (await response.json())["error"]["message"]
    response = await client.get("/api/v2/flows/report?limit=5", headers=AUTH)
    assert response.status == 400 and "limit" in (await response.json())["error"]["message"]
