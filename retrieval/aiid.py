"""The AI Incident Database CSV (incidents.csv) as past post-mortems.

Each row becomes one `PostmortemDoc`: id `aiid-<incident_id>`, the title and date, service = the first alleged
deployer, text = the description, metadata = deployers, developers, harmed parties and report count, with
source "aiid". Bad rows become `IngestError` values naming the file and line; the rest is still read.

Data: AI Incident Database (incidentdatabase.ai, Responsible AI Collaborative), CC BY-SA 4.0. Anything derived
from it and shipped must credit it and keep that license.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, Field

from retrieval.trace import IngestError, PostmortemDoc

CREDIT = "AI Incident Database (incidentdatabase.ai), Responsible AI Collaborative; CC BY-SA 4.0"
LICENSE = "CC BY-SA 4.0"
CITE_URL = "https://incidentdatabase.ai/cite/{n}"
REQUIRED = ("incident_id", "date", "title", "description")
_LISTS = {
    "deployers": "Alleged deployer of AI system",
    "developers": "Alleged developer of AI system",
    "harmed_parties": "Alleged harmed or nearly harmed parties",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def aiid_id(incident_id: int) -> str:
    return f"aiid-{incident_id}"


def aiid_number(doc_id: str) -> int | None:
    """The AIID incident number of a corpus id ("aiid-12" -> 12), None for other ids."""
    match = re.fullmatch(r"aiid-(\d+)", doc_id)
    return int(match.group(1)) if match else None


def _json_list(text: str | None, column: str) -> list[str]:
    if not text or not text.strip():
        return []
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"column {column!r} is not a JSON list") from None
    if not isinstance(value, list):
        raise ValueError(f"column {column!r} is not a JSON list")
    return [str(v).strip() for v in value if v is not None and str(v).strip()]


class AiidRow(BaseModel):
    """One valid row of incidents.csv (text stripped, lists parsed): what every reader of the file starts from."""

    incident_id: int
    date: str | None = None  # YYYY-MM-DD
    title: str = ""
    description: str = ""
    deployers: list[str] = Field(default_factory=list)
    developers: list[str] = Field(default_factory=list)
    harmed_parties: list[str] = Field(default_factory=list)
    reports: int = 0


def parse_row(row: dict[str, str]) -> AiidRow:
    """One CSV row as an AiidRow; ValueError (without the line) for a bad one."""
    raw_id = (row.get("incident_id") or "").strip()
    if not raw_id.isdigit():
        raise ValueError(f"incident_id {raw_id!r} is not a number")
    number = int(raw_id)
    date = (row.get("date") or "").strip()
    if date and not _DATE.match(date):
        raise ValueError(f"date {date!r} is not YYYY-MM-DD")
    title = (row.get("title") or "").strip()
    description = (row.get("description") or "").strip()
    if not title and not description:
        raise ValueError(f"incident {number} has neither title nor description")
    lists = {key: _json_list(row.get(column), column) for key, column in _LISTS.items()}
    reports = _json_list(row.get("reports"), "reports") if "reports" in row else []
    return AiidRow(
        incident_id=number,
        date=date or None,
        title=title,
        description=description,
        reports=len(reports),
        **lists,
    )


def row_doc(row: AiidRow, path: Path) -> PostmortemDoc:
    """The past post-mortem of one row."""
    return PostmortemDoc(
        id=aiid_id(row.incident_id),
        title=row.title or row.description[:80],
        date=row.date,
        service=row.deployers[0] if row.deployers else None,
        tags=["aiid"],
        text=row.description or row.title,
        source=CITE_URL.format(n=row.incident_id),
        metadata={
            "source": "aiid",
            "incident_id": row.incident_id,
            "deployers": row.deployers,
            "developers": row.developers,
            "harmed_parties": row.harmed_parties,
            "reports": row.reports,
            "license": LICENSE,
            "file": path.name,
        },
    )


def iter_rows(path: Path) -> Iterator[AiidRow | IngestError]:
    """One AiidRow per good row, one IngestError (file and line) per bad row or bad file."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        yield IngestError(path=str(path), message=f"cannot read ({exc.strerror or exc})")
        return
    with handle:
        try:
            reader = csv.DictReader(handle)
            fields = set(reader.fieldnames or ())
        except (UnicodeDecodeError, csv.Error) as exc:
            yield IngestError(path=str(path), location="line 1", message=f"not a CSV file ({exc})")
            return
        missing = [c for c in REQUIRED if c not in fields]
        if missing:
            yield IngestError(
                path=str(path),
                location="line 1",
                message=f"not an AIID incidents file (missing columns: {', '.join(missing)})",
            )
            return
        seen: dict[int, int] = {}
        start = reader.line_num + 1
        while True:
            try:
                raw = next(reader)
            except StopIteration:
                return
            except (UnicodeDecodeError, csv.Error) as exc:
                yield IngestError(path=str(path), location=f"line {start}", message=f"unreadable row ({exc})")
                return
            line, start = start, reader.line_num + 1
            try:
                row = parse_row(raw)
            except ValueError as exc:
                yield IngestError(path=str(path), location=f"line {line}", message=str(exc))
                continue
            if row.incident_id in seen:
                yield IngestError(
                    path=str(path),
                    location=f"line {line}",
                    message=f"duplicate incident_id {row.incident_id} (first on line {seen[row.incident_id]})",
                )
                continue
            seen[row.incident_id] = line
            yield row


def iter_aiid(path: Path) -> Iterator[PostmortemDoc | IngestError]:
    """One PostmortemDoc per good row, one IngestError (file and line) per bad row or bad file."""
    for item in iter_rows(path):
        yield item if isinstance(item, IngestError) else row_doc(item, path)


def read_aiid(path: Path) -> tuple[list[PostmortemDoc], list[IngestError]]:
    """All good rows and all errors of one AIID incidents CSV."""
    docs: list[PostmortemDoc] = []
    errors: list[IngestError] = []
    for item in iter_aiid(path):
        (docs if isinstance(item, PostmortemDoc) else errors).append(item)  # type: ignore[arg-type]
    return docs, errors
