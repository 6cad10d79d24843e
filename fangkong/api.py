"""Assembles the Ninja routers of the apps under /api/v1/. Each app exposes `router` in its api.py."""

from __future__ import annotations

import importlib

from django.apps import apps
from ninja import NinjaAPI

from fangkong.core.api_support import API_AUTH, install_error_handlers

api = NinjaAPI(
    title="Fangkong API",
    version="1",
    description="Fangkong (防控) epidemic prevention and control. Authenticate with `Authorization: Bearer <token>` "
    "(issue tokens on the 'API 令牌' page or with `manage.py issue_token`).",
    auth=API_AUTH,
    urls_namespace="api",
)
install_error_handlers(api)

for config in apps.get_app_configs():
    if not config.name.startswith("fangkong."):
        continue
    try:
        module = importlib.import_module(f"{config.name}.api")
    except ModuleNotFoundError as exc:
        if exc.name != f"{config.name}.api":
            raise
        continue
    api.add_router("", module.router)
