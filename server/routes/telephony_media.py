"""Carrier media websockets: ``WS /telephony/{carrier}/stream``. The handshake, the stream
token, admission and the live call are ``server.calls.phone.streams``'s."""

from __future__ import annotations

from starlette.websockets import WebSocket

from server.api import RawDoc, Router
from server.calls.phone.carriers import known_carrier
from server.calls.phone.streams import POLICY_VIOLATION, serve_media_stream

router = Router(tags=["telephony"])


async def media_stream(websocket: WebSocket) -> None:
    carrier = websocket.path_params["carrier"]
    if not known_carrier(carrier):
        await websocket.close(POLICY_VIOLATION)
        return
    await websocket.accept()
    await serve_media_stream(websocket.app.state.services, websocket, carrier)


router.websocket(
    "/telephony/{carrier}/stream",
    media_stream,
    doc=RawDoc(
        "GET", "/telephony/{carrier}/stream", "Carrier media websocket",
        "The carrier's bidirectional media stream (Twilio Media Streams, Telnyx, Plivo, "
        "Vonage, Exotel). Admitted by the single-use stream token from the call markup; one "
        "stream per call.",
        tags=["telephony"], responses={"101": "Switching protocols"},
    ),
)  # fmt: skip
