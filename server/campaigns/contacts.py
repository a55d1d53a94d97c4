"""Contact import: CSV (streamed, never the whole file in memory) or JSON rows, checked row
by row (E.164, time zone, duplicates, the do-not-call list, required variables) and inserted
in batches; good rows are kept, bad ones reported (a capped list, and counts by reason)."""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from db import campaign_contacts as contacts_db
from db import do_not_call as dnc_db
from server.campaigns.models import zone
from telephony.numbers import normalize_e164

if TYPE_CHECKING:
    import asyncpg

BATCH_ROWS = 2000
MAX_LISTED_ERRORS = 100
MAX_LINE_CHARS = 65_536  # a CSV record longer than this is refused (and so is its file)
PHONE_COLUMNS = ("phone_number", "phone", "number", "to")
ZONE_COLUMNS = ("time_zone", "timezone", "tz")

# Country calling codes whose country keeps one time zone (no daylight-saving split across
# regions); any other number takes the campaign's zone unless its row names one.
SINGLE_ZONE: dict[str, str] = {
    "20": "Africa/Cairo", "27": "Africa/Johannesburg", "30": "Europe/Athens",
    "31": "Europe/Amsterdam", "32": "Europe/Brussels", "33": "Europe/Paris",
    "36": "Europe/Budapest", "39": "Europe/Rome", "40": "Europe/Bucharest",
    "41": "Europe/Zurich", "43": "Europe/Vienna", "44": "Europe/London",
    "45": "Europe/Copenhagen", "46": "Europe/Stockholm", "47": "Europe/Oslo",
    "48": "Europe/Warsaw", "49": "Europe/Berlin", "63": "Asia/Manila", "65": "Asia/Singapore",
    "66": "Asia/Bangkok", "81": "Asia/Tokyo", "82": "Asia/Seoul", "84": "Asia/Ho_Chi_Minh",
    "86": "Asia/Shanghai", "90": "Europe/Istanbul", "91": "Asia/Kolkata",
    "234": "Africa/Lagos", "254": "Africa/Nairobi", "353": "Europe/Dublin",
    "358": "Europe/Helsinki", "420": "Europe/Prague", "852": "Asia/Hong_Kong",
    "966": "Asia/Riyadh", "971": "Asia/Dubai", "972": "Asia/Jerusalem",
}  # fmt: skip


def zone_of_number(number: str) -> str | None:
    """The time zone of an E.164 number's country when it has only one (codes are
    prefix-free, so the first 1-3 digits name at most one country)."""
    digits = number[1:]
    for size in (1, 2, 3):
        found = SINGLE_ZONE.get(digits[:size])
        if found:
            return found
    return None


class ImportRefused(Exception):
    """The upload as a whole cannot be read (no phone column, not UTF-8, a runaway record)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class RowError:
    row: int
    code: str
    message: str
    phone_number: str | None = None


@dataclass
class ImportReport:
    received: int = 0
    imported: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    errors_truncated: bool = False

    def reject(self, row: int, code: str, message: str, phone: str | None = None) -> None:
        self.rejected[code] = self.rejected.get(code, 0) + 1
        if len(self.errors) < MAX_LISTED_ERRORS:
            self.errors.append(RowError(row, code, message, phone))
        else:
            self.errors_truncated = True


@dataclass
class Rules:
    """What every row is checked against."""

    default_zone: str
    required: frozenset[str]


@dataclass
class _Pending:
    rows: list[tuple[int, str, str, str]] = field(default_factory=list)


class ContactImport:
    """Feed rows (``add``), then ``finish``; batches go to the database as they fill."""

    def __init__(self, pool: asyncpg.Connection, organization_id: UUID, campaign_id: UUID,
                 rules: Rules, first_row: int) -> None:  # fmt: skip
        self.pool, self.org, self.campaign_id, self.rules = pool, organization_id, campaign_id, rules
        self.report = ImportReport()
        self.seen: set[str] = set()  # numbers of this upload (duplicates within it)
        self.pending = _Pending()
        self.row = first_row

    async def add(self, phone: Any, time_zone: Any, variables: dict[str, Any]) -> None:
        self.row += 1
        self.report.received += 1
        row = self.row
        try:
            number = normalize_e164(str(phone or ""))
        except ValueError:
            self.report.reject(row, "invalid_number", "not an E.164 phone number", str(phone)[:32])
            return
        tz = str(time_zone).strip() if time_zone else ""
        if tz:
            try:
                zone(tz)
            except ValueError:
                self.report.reject(row, "invalid_time_zone", f"unknown time zone {tz[:64]!r}", number)
                return
        else:
            tz = zone_of_number(number) or self.rules.default_zone
        values = {str(k): "" if v is None else str(v) for k, v in variables.items()}
        bad = [k for k, v in values.items() if len(k) > 64 or len(v) > 2000 or "\x00" in v]
        if bad:
            self.report.reject(row, "invalid_variable", f"variable {bad[0][:64]!r} is too long", number)
            return
        missing = sorted(n for n in self.rules.required if not values.get(n))
        if missing:
            self.report.reject(row, "missing_variables", "missing " + ", ".join(missing), number)
            return
        if number in self.seen:
            self.report.reject(row, "duplicate", "the number is already in this upload", number)
            return
        self.seen.add(number)
        self.pending.rows.append((row, number, tz, json.dumps(values)))
        if len(self.pending.rows) >= BATCH_ROWS:
            await self.flush()

    async def flush(self) -> None:
        rows, self.pending.rows = self.pending.rows, []
        if not rows:
            return
        blocked = await dnc_db.listed(self.pool, self.org, [r[1] for r in rows])
        keep = []
        for row in rows:
            if row[1] in blocked:
                self.report.reject(row[0], "do_not_call", "the number is on the do-not-call list", row[1])
            else:
                keep.append(row)
        inserted = await contacts_db.insert_batch(self.pool, self.org, self.campaign_id, keep)
        self.report.imported += len(inserted)
        for row in keep:
            if row[0] not in inserted:
                self.report.reject(row[0], "duplicate", "the number is already in the campaign", row[1])

    async def finish(self) -> ImportReport:
        await self.flush()
        self.report.errors.sort(key=lambda e: e.row)
        return self.report


async def import_csv(chunks: AsyncIterator[bytes], target: ContactImport) -> ImportReport:
    """Read CSV records as they arrive: a header row naming the phone column (one of
    ``phone_number``, ``phone``, ``number``, ``to``), optionally a time-zone column
    (``time_zone``, ``timezone``, ``tz``); every other column is a variable."""
    header: list[str] | None = None
    phone_at = zone_at = -1
    async for records in _csv_records(chunks):
        for record in records:
            try:  # a complete record (quotes balanced): parsed on its own
                values = next(csv.reader([record], strict=True), [])
            except csv.Error:
                target.row += 1
                target.report.received += 1
                target.report.reject(target.row, "malformed_row", "not a valid CSV record")
                continue
            if header is None:
                header = [h.strip().lstrip("\ufeff").lower() for h in values]
                phone_at = _index(header, PHONE_COLUMNS)
                zone_at = _index(header, ZONE_COLUMNS)
                if phone_at < 0:
                    raise ImportRefused(
                        "missing_phone_column", "the header names no phone column (phone_number)"
                    )
                continue
            if not any(v.strip() for v in values):
                continue  # blank line
            variables = {
                header[i]: v
                for i, v in enumerate(values)
                if i not in (phone_at, zone_at) and i < len(header) and header[i]
            }
            await target.add(values[phone_at] if phone_at < len(values) else "",
                             values[zone_at] if 0 <= zone_at < len(values) else None, variables)  # fmt: skip
    if header is None:
        raise ImportRefused("empty_file", "the CSV has no header row")
    return await target.finish()


def _index(header: list[str], names: Iterable[str]) -> int:
    for name in names:
        if name in header:
            return header.index(name)
    return -1


async def _csv_records(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[str]]:
    """Complete CSV records (a quoted field may span lines) from UTF-8 byte chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    buffer, partial, quotes = "", "", 0
    try:
        async for chunk in chunks:
            buffer += decoder.decode(chunk)
            lines = buffer.split("\n")
            buffer = lines.pop()
            out = []
            for line in lines:
                partial += line + "\n"
                quotes += line.count('"')
                if quotes % 2 == 0:
                    out.append(partial.rstrip("\r\n"))
                    partial, quotes = "", 0
                elif len(partial) > MAX_LINE_CHARS:
                    raise ImportRefused("record_too_long", "a CSV record runs over 64 KiB")
            if len(buffer) > MAX_LINE_CHARS:
                raise ImportRefused("record_too_long", "a CSV record runs over 64 KiB")
            if out:
                yield out
        buffer += decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ImportRefused("not_utf8", "the CSV is not UTF-8") from None
    last = (partial + buffer).rstrip("\r\n")
    if last:
        yield [last]
