"""Picked up by fangkong.tenancy.demo.run_demo (every app's `demo_data.seed(ctx)` runs after the base steps)."""

from __future__ import annotations

from typing import Any

from fangkong.policy.demo import seed_policy_demo


def seed(ctx: Any) -> None:
    seed_policy_demo(city=ctx.city)
