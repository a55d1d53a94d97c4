"""A fake, deterministic order service for the order-status template's HTTP tool.

Public and tenant-free: the answer depends only on the order number (no clock, no data).
``GET /demo/orders?order_number=1001`` (how GET tools send arguments) and
``GET /demo/orders/1001`` return the same order.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, Field

from server.api import ApiContext, Router
from server.errors import unprocessable

router = Router(tags=["demo"])
ORDER_NUMBER = r"^[A-Za-z0-9-]{1,32}$"
_STATUSES = ("processing", "shipped", "out for delivery", "delivered")
_ITEMS = ("trail running shoes", "rain jacket", "wool socks", "camping stove", "headlamp")
_CARRIERS = ("UPS", "FedEx", "USPS", "DHL")


class DemoOrder(BaseModel):
    order_number: str
    status: str
    items: list[str]
    carrier: str | None
    estimated_delivery: str = Field(description="ISO date")


class DemoOrderQuery(BaseModel):
    order_number: str = Field(pattern=ORDER_NUMBER, description="Any order number, e.g. 1001")


def demo_order(order_number: str) -> DemoOrder:
    """The same order every time for the same number."""
    digest = hashlib.sha256(order_number.upper().encode()).digest()
    status = _STATUSES[digest[0] % len(_STATUSES)]
    items = [_ITEMS[digest[i] % len(_ITEMS)] for i in range(1, 2 + digest[1] % 2)]
    return DemoOrder(
        order_number=order_number.upper(), status=status, items=items,
        carrier=None if status == "processing" else _CARRIERS[digest[3] % len(_CARRIERS)],
        estimated_delivery=f"2026-12-{1 + digest[4] % 28:02d}",
    )


@router.get("/demo/orders", query=DemoOrderQuery, response=DemoOrder, auth=None,
            summary="Demo order service: a fake order's status (for the order_status template)")
async def demo_order_by_query(ctx: ApiContext) -> DemoOrder:
    return demo_order(ctx.query.order_number)


@router.get("/demo/orders/{order_number}", response=DemoOrder, auth=None,
            summary="Demo order service: a fake order's status, by path")
async def demo_order_by_path(ctx: ApiContext) -> DemoOrder:
    import re

    number = ctx.path["order_number"]
    if not re.fullmatch(ORDER_NUMBER[1:-1], number):
        raise unprocessable("path", "order_number", code="string_pattern_mismatch",
                            message="1 to 32 letters, digits or dashes")
    return demo_order(number)
