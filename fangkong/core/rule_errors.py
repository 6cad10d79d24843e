"""Errors of the pure rules, worded in the reader's language by whoever reports them.

The rules modules stay free of Django, so they cannot translate. They raise `RuleError` with a Chinese message
template marked by `gettext_noop` below (a plain function: makemessages extracts by that name) and its values; `str()`
is the Chinese sentence, and `worded()` translates it into the active language where the error is reported. A list
among the values (the missing doses, the rows an ID number repeats on) is joined the way the language lists things:
"1、2" in Chinese, "1, 2" in English.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def gettext_noop(message: str) -> str:
    """Marks a message for extraction; returns it unchanged (named like Django's so makemessages finds it)."""
    return message


class RuleError(ValueError):
    def __init__(self, message: str, **params: Any) -> None:
        self.message, self.params = message, params
        super().__init__(message % listed(params, "、") if params else message)


def enumeration(items: Iterable[Any]) -> str:
    """Names or codes as one list in the reader's language ("甲、乙" / "A, B")."""
    from django.utils.translation import gettext

    return gettext("、").join(str(i) for i in items)


def listed(params: dict[str, Any], separator: str) -> dict[str, Any]:
    """The values with each list or tuple joined by `separator`."""
    return {k: separator.join(map(str, v)) if isinstance(v, list | tuple) else v for k, v in params.items()}


def worded(error: Exception) -> str:
    """The error's sentence in the active language (a RuleError's translation; any other error as it is)."""
    if isinstance(error, RuleError):
        from django.utils.translation import gettext

        message = gettext(error.message)
        return message % listed(error.params, gettext("、")) if error.params else message
    return str(error)
