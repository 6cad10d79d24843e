"""The home page collects cards from `<app>/dashboard.py` (a `cards(request) -> list[dict]` function), so each app
shows its own figures without core knowing about it. A card: {title, value, url?, tone?, note?}."""

from __future__ import annotations

import importlib
from typing import Any

from django.apps import apps
from django.http import HttpRequest


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    cards: list[dict[str, Any]] = []
    for config in apps.get_app_configs():
        if not config.name.startswith("fangkong."):
            continue
        try:
            module = importlib.import_module(f"{config.name}.dashboard")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.dashboard":
                raise
            continue
        provider = getattr(module, "cards", None)
        if provider is not None:  # fangkong.core.dashboard is this module itself
            cards.extend(provider(request))
    return {"cards": cards}
