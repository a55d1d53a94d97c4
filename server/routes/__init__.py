"""Every router of the app. Adding a module's routes = one line here."""

from __future__ import annotations

from server.api import Router
from server.routes import (
    api_keys,
    audit,
    auth,
    call_control,
    calls,
    campaign_contacts,
    campaigns,
    carriers,
    console,
    console_summary,
    demo,
    do_not_call,
    health,
    organizations,
    phone_numbers,
    provider_credentials,
    telephony,
    telephony_media,
    templates,
    tool_secrets,
    usage,
    webhooks,
    webrtc,
    workflow_chat,
    workflows,
)


def all_routers() -> list[Router]:
    return [
        health.router,
        auth.router,
        organizations.router,
        api_keys.router,
        audit.router,
        provider_credentials.router,
        workflows.router,
        templates.router,
        workflow_chat.router,
        webhooks.router,
        tool_secrets.router,
        carriers.router,
        phone_numbers.router,
        telephony.router,
        telephony_media.router,
        call_control.router,
        calls.router,
        campaigns.router,
        campaign_contacts.router,
        do_not_call.router,
        usage.router,
        webrtc.router,
        demo.router,
        console_summary.router,
        console.router,
    ]
