"""Low: last-owner race. Two owners demoting (or removing) each other at the same moment
could both pass the "another owner remains" check and leave zero owners. Membership changes
now run one at a time per organization (row lock) in one transaction."""

from __future__ import annotations

import asyncio

import pytest

from tests.members import add_member

pytestmark = pytest.mark.integration


async def _owners(client, headers):
    members = (await client.get("/api/v1/organization/members", headers=headers)).json()
    return [m for m in members if m["role"] == "owner"]


async def test_concurrent_demotions_keep_an_owner(client, make_user):
    for _ in range(5):  # timing-dependent: try it several times
        a = await make_user()
        b = await make_user()
        b_headers = await add_member(client, a, b, "owner")
        results = await asyncio.gather(
            client.patch(f"/api/v1/organization/members/{b.user_id}", json={"role": "admin"},
                         headers=a.headers),
            client.patch(f"/api/v1/organization/members/{a.user_id}", json={"role": "admin"},
                         headers=b_headers),
        )
        assert sorted(r.status_code for r in results) in ([200, 403], [200, 409]), [
            r.text for r in results]
        assert len(await _owners(client, a.headers)) == 1


async def test_concurrent_leaving_keeps_an_owner(client, make_user):
    for _ in range(5):
        a = await make_user()
        b = await make_user()
        b_headers = await add_member(client, a, b, "owner")
        results = await asyncio.gather(
            client.delete(f"/api/v1/organization/members/{a.user_id}", headers=a.headers),
            client.delete(f"/api/v1/organization/members/{b.user_id}", headers=b_headers),
        )
        assert sorted(r.status_code for r in results) == [204, 409], [r.text for r in results]
