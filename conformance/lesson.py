"""The seed lesson's one function tool, ``calculate_order_total``, written once: in the lesson's
own words (the emulator's default assistant) and in English (the assistant a fuzzed client is
given, and the benchmark's traces)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["LESSON_ASSISTANT", "ORDER_ASSISTANT", "ORDER_TOOL", "ORDER_TOTAL", "order_total_tool"]

ORDER_TOTAL = "calculate_order_total"
"""The name of the lesson's function tool."""


def order_total_tool(
    description: str, item_type: str, quantity: Mapping[str, Any]
) -> dict[str, Any]:
    """The lesson's function tool with its texts (and the quantity's schema beyond its type)."""
    return {
        "type": "function",
        "function": {
            "name": ORDER_TOTAL,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "item_type": {"type": "string", "description": item_type},
                                "quantity": {"type": "integer", **quantity},
                            },
                            "required": ["item_type", "quantity"],
                        },
                    }
                },
                "required": ["items"],
            },
        },
    }


LESSON_ASSISTANT: Mapping[str, Any] = {
    "name": "订单价格计算器",
    "instructions": "可以帮助客户计算当前购物车的商品总价",
    "model": "gpt-4-1106-preview",
    "tools": [
        order_total_tool(
            "根据多个商品类型和数量计算订单总价",
            "商品类型,例如:书籍,文具,电子产品",
            {"description": "商品数量"},
        )
    ],
}
"""The lesson's assistant (one function tool, ``calculate_order_total``)."""

ORDER_TOOL: Mapping[str, Any] = order_total_tool(
    "Compute an order's total from item types and quantities",
    "the kind of item, e.g. book, pen",
    {"minimum": 1},
)
"""The lesson's tool in English, with at least one of each item."""

ORDER_ASSISTANT: Mapping[str, Any] = {
    "name": "Order assistant",
    "instructions": "Helps customers work out the total price of their shopping cart.",
    "model": "gpt-4o",
    "tools": [ORDER_TOOL],
}
"""The lesson's assistant in English."""
