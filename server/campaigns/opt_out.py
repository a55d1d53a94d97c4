"""Opt-out: a call in which the agent used the built-in ``opt_out`` tool puts the other
party's number on the organization's do-not-call list once it has ended (run by the
``call.ended`` job, so it is retried and never touches the live call)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog

from db import calls as calls_db
from db import campaign_contacts as contacts_db
from db import do_not_call as dnc_db
from telephony.numbers import is_e164

if TYPE_CHECKING:
    from server.services import Services

log = structlog.get_logger(__name__)
OPT_OUT_TOOL = "opt_out"


def _party(call: Any) -> str | None:
    """The person on the line: whom an outbound call dialed, who called in otherwise."""
    number = call["to_number"] if call["direction"] == "outbound" else call["from_number"]
    return number if number and is_e164(number) else None


async def apply_opt_out(services: Services, call: Any) -> bool:
    """List the call's other party when the agent called ``opt_out``; whether it did."""
    turns = await calls_db.list_turns(services.db, call["organization_id"], call["id"])
    asked = any(t["speaker"] == "tool" and (t["tool"] or {}).get("name") == OPT_OUT_TOOL
                and not (t["tool"] or {}).get("error") for t in turns)  # fmt: skip
    number = _party(call)
    if not asked or number is None:
        return False
    org = call["organization_id"]
    await dnc_db.add(services.db, org, number, reason=f"opted out during call {call['id']}",
                     source="opt_out")  # fmt: skip
    await contacts_db.opt_out_contacts(services.db, org, number)
    log.info("do_not_call_opt_out", call_id=str(call["id"]))
    return True
