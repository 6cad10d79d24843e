"""ADR 0009: bulk changes of tokens, users, memberships, venues or tenancy nodes must reach the API's auth cache at
once. Signals cover save() and QuerySet.delete(); QuerySet.update() sends none, so code that uses it must call
`authcache.invalidate()` (or `forget()`). The last test reads the source and fails on any such update without it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from django.utils import timezone

from fangkong.core import authcache
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.models import Membership
from fangkong.tenancy.roles import Role


def _gatekeepers(world: Any, n: int = 2) -> list[Any]:
    from django.contrib.auth import get_user_model

    users = [get_user_model().objects.create_user(username=f"gate{i}", password="x") for i in range(n)]
    for user in users:
        tenancy.membership_grant(user=user, role=Role.GATEKEEPER, organization=world.factory, actor=world.admin)
    return users


def _scan(api: Any, venue: Any, person: Any) -> Any:
    return api.post("/scans", {"venue_id": venue.pk, "person_id": person.pk, "direction": "entry",
                               "at": timezone.now().isoformat()})


def test_bulk_membership_removal_is_seen_by_the_api_at_once(world, gate_venue, make_person, api):
    gate1, gate2 = _gatekeepers(world)
    person = make_person()
    callers = [api(gate1), api(gate2)]
    for caller in callers:  # warm: token, roles and memberships now come from the cache
        assert caller.get("/venues").status_code == 200 and caller.get("/venues").status_code == 200
    assert _scan(callers[0], gate_venue, person).status_code == 201
    # The organisation takes every gate account off at once (QuerySet.delete sends post_delete per row).
    Membership.objects.filter(organization=world.factory, role=Role.GATEKEEPER).delete()
    for caller in callers:
        assert caller.get("/venues").status_code == 403
        assert _scan(caller, gate_venue, person).status_code == 403


def test_bulk_role_change_by_update_needs_invalidate_and_then_applies_at_once(world, gate_venue, api):
    (gate,) = _gatekeepers(world, 1)
    caller = api(gate)
    assert caller.get("/venues").status_code == 200 and caller.get("/venues").status_code == 200
    # A bulk demotion with update(): no signal, so the cached roles would still open the door (for up to
    # AUTH_CACHE_TTL) ...
    Membership.objects.filter(organization=world.factory, role=Role.GATEKEEPER).update(role=Role.MEMBER)
    assert caller.get("/venues").status_code == 200
    # ... which is why such code must invalidate: then the very next request is refused.
    authcache.invalidate()
    assert caller.get("/venues").status_code == 403


# Models whose rows the auth cache (or the scan path's venue cache) is built from.
CACHED_MODELS = {"ApiToken", "User", "Membership", "Venue", "Jurisdiction", "Authority", "Organization", "Unit"}
# update() calls that cannot change what is cached: (file, function).
ALLOWED = {
    ("fangkong/core/tokens.py", "_touch"),  # last_used_at only, queued by the cache itself
}


def _root(node: ast.AST) -> tuple[ast.AST, bool]:
    """The start of an attribute/call chain and whether `.objects` appears in it."""
    saw_objects = False
    while True:
        if isinstance(node, ast.Attribute):
            saw_objects = saw_objects or node.attr == "objects"
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            node = node.func
        else:
            return node, saw_objects


def _is_cached_model(root: ast.AST, annotations: dict[str, str]) -> bool:
    if isinstance(root, ast.Name):
        return root.id in CACHED_MODELS or any(m in annotations.get(root.id, "") for m in CACHED_MODELS)
    if isinstance(root, ast.Call) and isinstance(root.func, ast.Name):
        if root.func.id == "get_user_model":
            return True
        if root.func.id == "type" and root.args and isinstance(root.args[0], ast.Name):
            return any(m in annotations.get(root.args[0].id, "") for m in CACHED_MODELS)
    return False


def _offenders(path: Path, rel: str) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef) or (rel, func.name) in ALLOWED:
            continue
        annotations = {a.arg: ast.unparse(a.annotation) for a in func.args.args + func.args.kwonlyargs
                       if a.annotation is not None}
        calls = [n for n in ast.walk(func) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)]
        invalidates = any(c.func.attr in ("invalidate", "forget") and isinstance(c.func.value, ast.Name)  # type: ignore[attr-defined]
                          and c.func.value.id == "authcache" for c in calls)  # type: ignore[attr-defined]
        for call in calls:
            if call.func.attr != "update":  # type: ignore[attr-defined]
                continue
            root, via_objects = _root(call.func.value)  # type: ignore[attr-defined]
            if via_objects and _is_cached_model(root, annotations) and not invalidates:
                found.append(f"{rel}:{call.lineno} {func.name}()")
    return found


def test_no_bulk_update_of_cached_rows_without_invalidation():
    base = Path(__file__).resolve().parents[3]
    offenders = []
    for path in sorted((base / "fangkong").rglob("*.py")):
        rel = path.relative_to(base).as_posix()
        if "/tests/" in rel or "/migrations/" in rel:
            continue
        offenders += _offenders(path, rel)
    assert offenders == [], "QuerySet.update() of cached rows without authcache.invalidate()/forget() (ADR 0009)"


def test_the_guard_sees_what_it_should(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "def a(node: Unit):\n    type(node).objects.filter(pk=1).update(path='/')\n"
        "def b():\n    Membership.objects.filter(user_id=1).update(role='member')\n    authcache.invalidate(1)\n"
        "def c():\n    Notification.objects.filter(pk=1).update(read_at=None)\n"
        "def d():\n    get_user_model().objects.filter(pk=1).update(is_active=False)\n",
        encoding="utf-8")
    assert [o.split(" ")[1] for o in _offenders(sample, "sample.py")] == ["a()", "d()"]
