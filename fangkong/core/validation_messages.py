"""Pydantic's validation errors in the user's language: the API answers in zh-Hans by default (English on request),
but pydantic words its errors in English only ("Input should be a valid integer, unable to parse string as an
integer"). The common error types get a sentence of ours; anything else keeps pydantic's text."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _


def pydantic_message(err: Mapping[str, Any]) -> str:
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return _("缺少此项")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("应为整数")
    if kind in ("decimal_parsing", "decimal_type", "float_parsing", "float_type"):
        return _("应为数字")
    if kind.startswith("datetime_"):
        return _("应为时间，例如 2026-11-23T08:30:00+08:00")
    if kind.startswith("date_"):
        return _("应为日期，例如 2026-11-23")
    if kind in ("bool_parsing", "bool_type"):
        return _("应为 true 或 false")
    if kind in ("string_type", "str_type"):
        return _("应为文本")
    if kind in ("list_type", "tuple_type"):
        return _("应为列表")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return _("应为对象（JSON 对象）")
    if kind == "literal_error":
        return _("应为以下之一：%(expected)s") % {"expected": ctx.get("expected", "")}
    if kind == "string_too_long":
        return _("最多 %(max)s 个字符") % {"max": ctx.get("max_length", "")}
    if kind == "too_long":
        return _("最多 %(max)s 项") % {"max": ctx.get("max_length", "")}
    if kind == "json_invalid":
        return _("不是有效的 JSON")
    return str(err.get("msg", ""))
