"""Huey on a real Redis (CI exports REDIS_URL; skipped only when it is not set): the production queue path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings

REDIS_URL = os.environ.get("REDIS_URL")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="REDIS_URL is not set (CI sets it)")


@pytest.fixture
def redis_huey():
    from huey import PriorityRedisHuey

    # A queue name of its own, so parallel runs and a running consumer never take each other's tasks.
    huey = PriorityRedisHuey(name=f"fangkong-test-{uuid.uuid4().hex[:12]}", url=REDIS_URL, immediate=False)
    yield huey
    huey.flush()


def test_enqueue_execute_and_result_round_trip(redis_huey):
    @redis_huey.task()
    def add(a: int, b: int) -> int:
        return a + b

    result = add(20, 17)
    assert redis_huey.pending_count() == 1
    assert result.get() is None  # not executed yet: nothing is consuming this queue

    task = redis_huey.dequeue()
    assert task is not None and task.args == (20, 17)
    redis_huey.execute(task)
    assert result.get() == 37
    assert redis_huey.pending_count() == 0


def test_priority_orders_the_queue(redis_huey):
    @redis_huey.task()
    def label(name: str) -> str:
        return name

    label("routine")
    redis_huey.enqueue(label.s("urgent", priority=10))
    first = redis_huey.dequeue()
    assert first.args == ("urgent",)


def test_settings_switch_huey_to_redis_when_redis_url_is_set(tmp_path):
    """Outside tests the settings pick Huey's Redis storage from REDIS_URL; check it in a fresh interpreter."""
    code = (
        "import django, json; django.setup(); from huey.contrib.djhuey import HUEY; "
        "print(json.dumps([type(HUEY).__name__, HUEY.storage.conn.ping()]))"
    )
    env = {k: v for k, v in os.environ.items() if k != "FANGKONG_TESTING"}
    env.update(REDIS_URL=REDIS_URL, DJANGO_SETTINGS_MODULE="config.settings", FANGKONG_VAR_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True,
                         text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["PriorityRedisHuey", True]


def test_settings_share_the_cache_through_redis_when_redis_url_is_set(tmp_path):
    """Rate limits and the auth cache's version must be the same in every web process: the cache is Redis."""
    code = (
        "import django, json, uuid; django.setup(); from django.core.cache import cache; "
        "k = 'probe-' + uuid.uuid4().hex; cache.set(k, 41, 30); cache.incr(k); "
        "from django.core.cache import caches; "
        "print(json.dumps([type(caches['default']).__name__, cache.get(k)])); cache.delete(k)"
    )
    env = {k: v for k, v in os.environ.items() if k != "FANGKONG_TESTING"}
    env.update(REDIS_URL=REDIS_URL, DJANGO_SETTINGS_MODULE="config.settings", FANGKONG_VAR_DIR=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True,
                         text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == ["RedisCache", 42]
