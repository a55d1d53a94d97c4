"""Every router of the app. Adding a module's routes = one line here."""

from __future__ import annotations

from server.api import Router
from server.routes import (
    api_keys,
    audit,
    auth,
    billing_stripe,
    call_control,
    calls,
    carriers,
    console,
    console_calls,
    console_live,
    console_summary,
    demo,
    health,
    organizations,
    phone_numbers,
    plans,
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
        usage.router,
        billing_stripe.router,
        plans.router,
        webrtc.router,
        demo.router,
        console_summary.router,
        console_calls.router,
        console_live.router,
        console.router,
    ]
