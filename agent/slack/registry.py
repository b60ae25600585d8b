"""Where each draft the bot made lives in Slack: agent thread id -> channel, Slack thread, review message.

A review button is honoured only in the channel its draft was requested from, with that channel's services.
Kept in SQLite beside the agent's checkpoints, so buttons keep working after a restart.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agent.models import Incident

_SCHEMA = """
create table if not exists slack_drafts (
    thread_id text primary key,
    channel text not null,
    thread_ts text not null,
    message_ts text,
    requested_by text,
    services text,
    incident text not null,
    status text not null,
    created_at text not null
)
"""


class DraftRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thread_id: str  # the agent's thread id (checkpoint)
    channel: str
    thread_ts: str  # the Slack thread the draft was posted in
    message_ts: str | None = None  # the message carrying the review buttons
    requested_by: str | None = None
    services: list[str] | None = None  # None: every service
    incident: Incident
    status: str


class Registry:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute(_SCHEMA)

    def save(self, record: DraftRecord) -> None:
        with self._lock:
            self._db.execute(
                "insert or replace into slack_drafts values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.thread_id,
                    record.channel,
                    record.thread_ts,
                    record.message_ts,
                    record.requested_by,
                    json.dumps(record.services) if record.services is not None else None,
                    record.incident.model_dump_json(),
                    record.status,
                    datetime.now(UTC).isoformat(),
                ),
            )

    def get(self, thread_id: str) -> DraftRecord | None:
        with self._lock:
            row = self._db.execute(
                "select thread_id, channel, thread_ts, message_ts, requested_by, services, incident, status "
                "from slack_drafts where thread_id = ?",
                (thread_id,),
            ).fetchone()
        if row is None:
            return None
        return DraftRecord(
            thread_id=row[0],
            channel=row[1],
            thread_ts=row[2],
            message_ts=row[3],
            requested_by=row[4],
            services=json.loads(row[5]) if row[5] is not None else None,
            incident=Incident.model_validate_json(row[6]),
            status=row[7],
        )

    def set_status(self, thread_id: str, status: str) -> None:
        with self._lock:
            self._db.execute("update slack_drafts set status = ? where thread_id = ?", (status, thread_id))

    def close(self) -> None:
        with self._lock:
            self._db.close()
