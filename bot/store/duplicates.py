"""Likely duplicates: leads that name an e-mail address or phone number another lead has.

Nobody proves who they are in the chat or on the public web form: a stranger may
type a customer's address. Such a lead is therefore never folded into the lead
that already had the value, and that lead is not changed at all: the new lead
keeps what it was told, and a ``lead_duplicates`` row links the two so sales see
them side by side (with the fields on which they differ) and merge them once they
know it is one person (the lead book's merge, rows moved by :mod:`bot.store.merge`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from bot.store.models import Lead, LeadDuplicate

_LEADS = Lead.__table__
_LINKS = LeadDuplicate.__table__
# The values that identify a person, in the order links are looked for.
MATCH_FIELDS = ("email", "phone")
# What sales compare between two linked leads.
COMPARED_FIELDS = ("first_name", "last_name", "email", "phone", "company")


def link_duplicates(
    connection: Connection, lead_id: str, values: Mapping[str, str | None], now: datetime
) -> list[str]:
    """Link ``lead_id`` to the oldest other lead having one of its ``values``; the ids linked.

    ``values`` maps ``email``/``phone`` to what the lead was just given (e-mail
    addresses compare without case). Only surviving leads are candidates, and a
    pair already linked on that field (either way round) is not linked again.
    """
    linked: list[str] = []
    for name in MATCH_FIELDS:
        value = values.get(name)
        if not value:
            continue
        column = _LEADS.c[name]
        same = func.lower(column) == value.lower() if name == "email" else column == value
        other: str | None = connection.execute(
            select(_LEADS.c.id)
            .where(same, _LEADS.c.id != lead_id, _LEADS.c.merged_into.is_(None))
            .order_by(_LEADS.c.created_at, _LEADS.c.id)
            .limit(1)
        ).scalar_one_or_none()
        if other is None or _linked(connection, lead_id, other, name):
            continue
        connection.execute(
            insert(_LINKS).values(
                lead_id=lead_id, duplicate_of=other, matched_on=name, found_at=now
            )
        )
        linked.append(other)
    return linked


def _linked(connection: Connection, one: str, other: str, matched_on: str) -> bool:
    pair = or_(
        and_(_LINKS.c.lead_id == one, _LINKS.c.duplicate_of == other),
        and_(_LINKS.c.lead_id == other, _LINKS.c.duplicate_of == one),
    )
    found = connection.execute(
        select(_LINKS.c.id).where(pair, _LINKS.c.matched_on == matched_on).limit(1)
    ).first()
    return found is not None


def move_links(connection: Connection, absorbed: str, survivor: str) -> None:
    """After ``absorbed`` was merged into ``survivor``: its links become the survivor's.

    The link between the two goes (they are one lead now), and a link the
    survivor already has with the same lead on the same field is not doubled.
    """
    connection.execute(
        delete(_LINKS).where(
            or_(
                and_(_LINKS.c.lead_id == absorbed, _LINKS.c.duplicate_of == survivor),
                and_(_LINKS.c.lead_id == survivor, _LINKS.c.duplicate_of == absorbed),
            )
        )
    )
    rows = connection.execute(
        select(_LINKS).where(or_(_LINKS.c.lead_id == absorbed, _LINKS.c.duplicate_of == absorbed))
    ).all()
    for row in rows:
        one = survivor if row.lead_id == absorbed else row.lead_id
        other = survivor if row.duplicate_of == absorbed else row.duplicate_of
        if _linked(connection, one, other, row.matched_on):
            connection.execute(delete(_LINKS).where(_LINKS.c.id == row.id))
        else:
            connection.execute(
                update(_LINKS).where(_LINKS.c.id == row.id).values(lead_id=one, duplicate_of=other)
            )


def duplicate_links(
    connection: Connection, lead_ids: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """The likely duplicates of each of ``lead_ids`` (every lead id gets a list, maybe empty).

    One entry per other lead, oldest link first: its ``id``, ``matched_on``
    (the fields they share), ``found_at`` (when the link was made), its contact
    fields and ``differs``, the contact fields both leads have with different values.
    """
    ids = list(dict.fromkeys(lead_ids))
    found: dict[str, list[dict[str, Any]]] = {lead_id: [] for lead_id in ids}
    if not ids:
        return found
    links = connection.execute(
        select(_LINKS)
        .where(or_(_LINKS.c.lead_id.in_(ids), _LINKS.c.duplicate_of.in_(ids)))
        .order_by(_LINKS.c.found_at, _LINKS.c.id)
    ).all()
    if not links:
        return found
    pairs: dict[tuple[str, str], dict[str, Any]] = {}
    for link in links:
        for mine, other in ((link.lead_id, link.duplicate_of), (link.duplicate_of, link.lead_id)):
            if mine not in found:
                continue
            entry = pairs.get((mine, other))
            if entry is None:
                entry = pairs[(mine, other)] = {
                    "id": other,
                    "matched_on": [],
                    "found_at": link.found_at.isoformat(),
                }
                found[mine].append(entry)
            if link.matched_on not in entry["matched_on"]:
                entry["matched_on"].append(link.matched_on)
    wanted = {lead_id for pair in pairs for lead_id in pair}
    contacts = {
        row.id: row
        for row in connection.execute(
            select(
                _LEADS.c.id, _LEADS.c.created_at, *(_LEADS.c[name] for name in COMPARED_FIELDS)
            ).where(_LEADS.c.id.in_(sorted(wanted)))
        )
    }
    for (mine, other), entry in pairs.items():
        theirs, ours = contacts[other], contacts[mine]
        entry.update({name: theirs._mapping[name] for name in COMPARED_FIELDS})
        entry["created_at"] = theirs.created_at.isoformat()
        entry["differs"] = [
            name
            for name in COMPARED_FIELDS
            if ours._mapping[name]
            and theirs._mapping[name]
            and _comparable(name, ours._mapping[name]) != _comparable(name, theirs._mapping[name])
        ]
    return found


def without_details(duplicates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``duplicates`` naming the other leads by id only, without their contact fields.

    For what leaves the lead store or outlives an erasure (notifications, a
    person's data export): the other lead may be another person.
    """
    return [{name: entry[name] for name in _SUMMARY_FIELDS} for entry in duplicates]


_SUMMARY_FIELDS = ("id", "matched_on", "found_at", "differs")


def _comparable(name: str, value: str) -> str:
    return value.lower() if name == "email" else value
