"""Test helper: make an existing user a member of another organization the way users do it
(an invitation, accepted by the invited user), and sign them in to it."""

from __future__ import annotations

from typing import Any

import httpx


async def add_member(
    client: httpx.AsyncClient, owner: Any, member: Any, role: str = "member"
) -> dict[str, str]:
    """Invite ``member`` into ``owner``'s organization, accept, and return headers with an
    access token for that organization."""
    invited = await client.post("/api/v1/organization/members",
                                json={"email": member.email, "role": role}, headers=owner.headers)
    assert invited.status_code == 202, invited.text
    accepted = await client.post("/api/v1/invitations/accept",
                                 json={"invite_token": invited.json()["invite_token"]},
                                 headers=member.headers)
    assert accepted.status_code == 200, accepted.text
    login = await client.post("/api/v1/auth/login", json={
        "email": member.email, "password": member.password,
        "organization_id": owner.organization_id})  # fmt: skip
    assert login.status_code == 200, login.text
    return {"Authorization": f"Bearer {login.json()['access_token']}"}
