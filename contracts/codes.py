"""Closed code lists that travel in events and APIs."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class ComplaintCategory(StrEnum):
    """Issue codes a complaint or report is filed under (投诉举报问题类别)."""

    QUALITY = "quality"  # 商品质量
    COUNTERFEIT = "counterfeit"  # 假冒伪劣 / 侵权
    FALSE_ADVERTISING = "false_advertising"  # 虚假宣传
    PRICE = "price"  # 价格违法 / 价格欺诈
    AFTER_SALES = "after_sales"  # 售后服务
    REFUND = "refund"  # 退款退货
    DELIVERY = "delivery"  # 物流配送
    CONTRACT = "contract"  # 合同 / 格式条款
    PERSONAL_INFO = "personal_info"  # 个人信息
    FOOD_SAFETY = "food_safety"  # 食品安全
    PROMOTION = "promotion"  # 促销 / 搭售 / 自动续费
    OTHER = "other"  # 其他


CATEGORY_LABELS_ZH: Final[dict[ComplaintCategory, str]] = {
    ComplaintCategory.QUALITY: "商品质量",
    ComplaintCategory.COUNTERFEIT: "假冒伪劣",
    ComplaintCategory.FALSE_ADVERTISING: "虚假宣传",
    ComplaintCategory.PRICE: "价格问题",
    ComplaintCategory.AFTER_SALES: "售后服务",
    ComplaintCategory.REFUND: "退款退货",
    ComplaintCategory.DELIVERY: "物流配送",
    ComplaintCategory.CONTRACT: "合同条款",
    ComplaintCategory.PERSONAL_INFO: "个人信息",
    ComplaintCategory.FOOD_SAFETY: "食品安全",
    ComplaintCategory.PROMOTION: "促销搭售",
    ComplaintCategory.OTHER: "其他",
}


class FilingKind(StrEnum):
    COMPLAINT = "complaint"  # 投诉
    REPORT = "report"  # 举报


class IntakeChannel(StrEnum):
    """How a filing reached channel."""

    PLATFORM_API = "platform_api"
    PLATFORM_FEED = "platform_feed"
    # The bureau's own channels, entered by an officer.
    HOTLINE = "hotline"
    COUNTER = "counter"
    NATIONAL_12315 = "12315"


class RuleSet(StrEnum):
    """Complaint rules versioned by the date an item was received (DOMAIN.md)."""

    SAMR_ORDER_20 = "samr-order-20"
    SAMR_ORDER_121 = "samr-order-121"
