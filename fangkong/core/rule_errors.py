"""Errors of the pure rules, worded in the reader's language by whoever reports them.

The rules modules stay free of Django, so they cannot translate. They raise `RuleError` with a Chinese message
template marked by `gettext_noop` below (a plain function: makemessages extracts by that name) and its values; `str()`
is the Chinese sentence, and `worded()` translates it into the active language where the error is reported.
"""

from __future__ import annotations

from typing import Any


def gettext_noop(message: str) -> str:
    """Marks a message for extraction; returns it unchanged (named like Django's so makemessages finds it)."""
    return message


class RuleError(ValueError):
    def __init__(self, message: str, **params: Any) -> None:
        self.message, self.params = message, params
        super().__init__(message % params if params else message)


def worded(error: Exception) -> str:
    """The error's sentence in the active language (a RuleError's translation; any other error as it is)."""
    if isinstance(error, RuleError):
        from django.utils.translation import gettext

        return gettext(error.message) % error.params if error.params else gettext(error.message)
    return str(error)
