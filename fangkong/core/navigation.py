"""The side menu. Each app lists its entries in `<app>/nav.py` as NAV = [NavItem(...)]; the menu shows the ones the
user's roles allow, so navigation follows permissions without a central list to keep in step."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache

from django.apps import apps
from django.utils.functional import Promise


@dataclass(frozen=True)
class NavItem:
    label: str | Promise  # a gettext_lazy string
    url_name: str
    perm: str
    icon: str = "circle"
    group: str | Promise = ""
    order: int = 100
    # Pages that act for one organisation (a form that registers samples, the organisation's settings): hidden
    # from users who are not acting for one (platform admin, jurisdiction and bureau officers), who would get a 404.
    needs_organization: bool = False


@cache
def all_items() -> tuple[NavItem, ...]:
    items: list[NavItem] = []
    for config in apps.get_app_configs():
        if not config.name.startswith("fangkong."):
            continue
        try:
            module = importlib.import_module(f"{config.name}.nav")
        except ModuleNotFoundError:
            continue
        items.extend(getattr(module, "NAV", []))
    return tuple(sorted(items, key=lambda i: (i.order, str(i.label))))
