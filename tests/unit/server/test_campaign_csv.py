"""CSV contact parsing: records split across chunks, quoted newlines, CRLF, a BOM, the
header's columns; unreadable uploads refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from server.campaigns.contacts import ContactImport, ImportRefused, ImportReport, Rules, import_csv


class Recorder(ContactImport):
    """A target that keeps the parsed rows instead of inserting them."""

    def __init__(self) -> None:
        super().__init__(None, None, None, Rules("UTC", frozenset()), 0)  # type: ignore[arg-type]
        self.rows: list[tuple[Any, Any, dict[str, Any]]] = []

    async def add(self, phone: Any, time_zone: Any, variables: dict[str, Any]) -> None:
        self.rows.append((phone, time_zone, variables))

    async def finish(self) -> ImportReport:
        return self.report


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.mark.parametrize("size", [1, 3, 7, 64, 10_000])
async def test_records_survive_any_chunking(size: int) -> None:
    text = ('\ufeffPhone_Number,TZ,note,first_name\r\n'
            '+33123456789,,"two\r\nlines, and ""quotes""",Ana\r\n'
            '\r\n'
            '+14155550100,America/Chicago,plain,Ben\r\n'
            '+14155550101,,"é ü",Cy')  # fmt: skip
    target = Recorder()
    await import_csv(chunks(text.encode(), size), target)
    assert target.rows == [
        ("+33123456789", "", {"note": 'two\r\nlines, and "quotes"', "first_name": "Ana"}),
        ("+14155550100", "America/Chicago", {"note": "plain", "first_name": "Ben"}),
        ("+14155550101", "", {"note": "é ü", "first_name": "Cy"}),
    ]


async def test_unreadable_uploads_are_refused() -> None:
    with pytest.raises(ImportRefused) as exc:
        await import_csv(chunks(b"name,city\nA,B\n", 5), Recorder())
    assert exc.value.code == "missing_phone_column"
    with pytest.raises(ImportRefused) as exc:
        await import_csv(chunks(b"phone\n\xff\n", 5), Recorder())
    assert exc.value.code == "not_utf8"
    with pytest.raises(ImportRefused) as exc:
        await import_csv(chunks(b"", 5), Recorder())
    assert exc.value.code == "empty_file"
    with pytest.raises(ImportRefused) as exc:  # an unterminated quote runs to the end
        await import_csv(chunks(b'phone,note\n+14155550100,"' + b"x" * 70_000, 4096), Recorder())
    assert exc.value.code == "record_too_long"
