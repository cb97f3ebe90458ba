"""CSV import and export of leads (see :mod:`bot.leads.csvimport`, :mod:`bot.leads.csvexport`).

- ``GET /api/v2/leads/import/template``: the header and an example row.
- ``POST /api/v2/leads/import``: a CSV body (at most 20 MB); answers the
  import summary as JSON, or with ``Accept: text/csv`` the error report.
- ``GET /api/v2/leads/export.csv``: the leads matching the lead list's
  filters, streamed.
"""

from __future__ import annotations

import asyncio
import io

from aiohttp import web

from bot.leads.csvexport import iter_export_csv
from bot.leads.csvimport import (
    ON_DUPLICATE,
    CsvFileError,
    import_csv,
    template_csv,
    write_error_report,
)
from bot.store.tokens import LEADS_READ, LEADS_WRITE
from bot.web.errors import WebError
from bot.web.json import json_response
from bot.web.keys import LEADS, PRINCIPAL, SETTINGS
from bot.web.leads import FILTER_PARAMS, LIST_QUERY, lead_filters
from bot.web.params import bool_param, choice_param, known_params
from bot.web.routes import ApiRoute, Doc
from bot.web.schemas import CSV, OBJECT, error, json_answer, query

MAX_IMPORT_BYTES = 20 << 20
# The JSON summary lists this many errors; the CSV report (Accept: text/csv) lists
# all those the import keeps (bot.leads.csvimport.MAX_KEPT_ERRORS).
MAX_JSON_ERRORS = 1000
IMPORT_PARAMS = frozenset({"on_duplicate", "dry_run", "encoding", "ignore_unknown_columns"})
# What browsers and HTTP clients send for a .csv file.
CSV_TYPES = frozenset({"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"})
BODY_CHUNK_BYTES = 64 << 10


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


async def import_template(request: web.Request) -> web.Response:
    """``GET /api/v2/leads/import/template``."""
    return web.Response(
        text=template_csv(),
        content_type="text/csv",
        charset="utf-8",
        headers=_attachment("leads-template.csv"),
    )


async def import_leads(request: web.Request) -> web.Response:
    """``POST /api/v2/leads/import``: import a CSV body; the summary or the error report."""
    query = request.query
    known_params(query, IMPORT_PARAMS)
    on_duplicate = choice_param(query, "on_duplicate", ON_DUPLICATE) or "skip"
    dry_run = bool_param(query, "dry_run")
    ignore_unknown = bool_param(query, "ignore_unknown_columns")
    if request.content_type not in CSV_TYPES:
        raise WebError(
            415,
            f"expected a CSV body (Content-Type: text/csv), got {request.content_type}",
        )
    body = await _read_body(request)
    try:
        report = await asyncio.to_thread(
            import_csv,
            request.config_dict[LEADS].engine,
            body,
            region=request.config_dict[SETTINGS].shop_country,
            on_duplicate=on_duplicate,
            dry_run=dry_run,
            encoding=query.get("encoding") or request.charset or "utf-8",
            ignore_unknown=ignore_unknown,
            by=f"csv import ({request[PRINCIPAL].name})",
            encoding_flag="?encoding=",
        )
    except CsvFileError as exc:
        raise WebError(400, str(exc)) from None
    accept = {
        part.split(";")[0].strip().lower() for part in request.headers.get("Accept", "").split(",")
    }
    if "text/csv" in accept:
        out = io.StringIO()
        write_error_report(report.errors, out)
        return web.Response(
            text=out.getvalue(),
            content_type="text/csv",
            charset="utf-8",
            headers=_attachment("leads-import-errors.csv"),
        )
    return json_response(report.as_dict(MAX_JSON_ERRORS))


async def _read_body(request: web.Request) -> io.BytesIO:
    """The request body, refused with 413 past :data:`MAX_IMPORT_BYTES`.

    Read from the stream: the app's body limit is the events API's 1 MB.
    """
    too_large = WebError(
        413, f"request body must be at most 20 MB ({MAX_IMPORT_BYTES} bytes); split the file"
    )
    if request.content_length is not None and request.content_length > MAX_IMPORT_BYTES:
        raise too_large
    body = io.BytesIO()
    async for chunk in request.content.iter_chunked(BODY_CHUNK_BYTES):
        if body.tell() + len(chunk) > MAX_IMPORT_BYTES:
            raise too_large
        body.write(chunk)
    body.seek(0)
    return body


async def export_leads(request: web.Request) -> web.StreamResponse:
    """``GET /api/v2/leads/export.csv``: the leads matching the list filters, streamed."""
    query = request.query
    known_params(query, FILTER_PARAMS)
    chunks = iter_export_csv(request.config_dict[LEADS], lead_filters(query))
    # The first page is read before the headers go out, so a failing database
    # is still answered with a JSON error rather than a cut-off file.
    chunk: str | None = await asyncio.to_thread(next, chunks)
    response = web.StreamResponse(
        headers={"Content-Type": "text/csv; charset=utf-8", **_attachment("leads.csv")}
    )
    await response.prepare(request)
    while chunk is not None:
        await response.write(chunk.encode())
        chunk = await asyncio.to_thread(next, chunks, None)
    await response.write_eof()
    return response


ROUTES = (
    ApiRoute(
        "GET",
        "/api/v2/leads/import/template",
        import_template,
        LEADS_READ,
        Doc(
            "CSV import template",
            "getImportTemplate",
            {"200": {"description": "The template", "content": CSV}},
        ),
    ),
    ApiRoute(
        "POST",
        "/api/v2/leads/import",
        import_leads,
        LEADS_WRITE,
        Doc(
            "Import leads from CSV",
            "importLeads",
            {
                "200": json_answer("Import summary with row errors", OBJECT),
                "400": error("The file cannot be imported"),
                "413": error("File over 20 MB"),
                "415": error("Not a CSV body"),
            },
            query=(
                query(
                    "on_duplicate",
                    {"type": "string", "enum": list(ON_DUPLICATE)},
                    "A row whose e-mail (or phone) a lead has",
                ),
                query("dry_run", {"type": "boolean"}, "Check only, write nothing"),
                query(
                    "encoding",
                    {"type": "string", "maxLength": 40},
                    "The file's encoding (default: the body's charset, else utf-8)",
                ),
                query(
                    "ignore_unknown_columns",
                    {"type": "boolean"},
                    "Skip columns it does not know instead of refusing the file",
                ),
            ),
            body={"required": True, "content": CSV},
        ),
    ),
    ApiRoute(
        "GET",
        "/api/v2/leads/export.csv",
        export_leads,
        LEADS_READ,
        Doc(
            "Export leads as CSV (same filters as the list)",
            "exportLeads",
            {
                "200": {"description": "The leads", "content": CSV},
                "400": error("Bad query parameter"),
            },
            query=LIST_QUERY,
        ),
    ),
)
