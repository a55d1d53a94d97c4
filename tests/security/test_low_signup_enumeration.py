"""Low: sign-up said 409 for a taken email, telling a stranger who is registered. It now
answers 202 with a generic message (no account, no token), after spending the same hash."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


async def test_taken_email_gets_no_error_and_no_session(client, make_user):
    user = await make_user()
    r = await client.post("/api/v1/auth/signup",
                          json={"email": user.email, "password": "some other password"})
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "pending" and "error" not in body and "access_token" not in body
    assert "exist" not in body["message"].split(".")[0]  # the first sentence claims nothing
    # The original account is untouched.
    login = await client.post("/api/v1/auth/login",
                              json={"email": user.email, "password": user.password})
    assert login.status_code == 200
