"""The API's auth cache (ADR 0009): warm requests skip the token and membership reads; every change that matters
takes effect at once in this process, and through the shared version (or the TTL) elsewhere."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fangkong.core import authcache
from fangkong.core.models import ApiToken
from fangkong.core.tokens import token_issue, token_revoke
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.models import Membership
from fangkong.tenancy.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    authcache.clear()
    yield
    authcache.clear()


def _auth_queries(client, path, raw):
    with CaptureQueriesContext(connection) as q:
        r = client.get(path, HTTP_AUTHORIZATION=f"Bearer {raw}")
    sql = [x["sql"] for x in q.captured_queries]
    return r, [s for s in sql if "core_apitoken" in s and s.lstrip().upper().startswith("SELECT")], [
        s for s in sql if "tenancy_membership" in s and "core_apitoken" not in s]


def test_a_warm_request_reads_neither_token_nor_memberships(client, world):
    _t, raw = token_issue(user=world.alice, name="t")
    r, tokens, memberships = _auth_queries(client, "/api/v1/people", raw)
    assert r.status_code == 200 and len(tokens) == 1 and len(memberships) == 1
    r, tokens, memberships = _auth_queries(client, "/api/v1/people", raw)
    assert r.status_code == 200 and tokens == [] and memberships == []


def test_a_permission_without_row_scope_needs_no_memberships_query(client, world, settings):
    if connection.vendor != "postgresql":
        pytest.skip("roles come with the token on PostgreSQL")
    _t, raw = token_issue(user=world.alice, name="t")
    # /me lists the memberships (one query); a role-only check (the decorator) read the roles with the token.
    r, tokens, memberships = _auth_queries(client, "/api/v1/me", raw)
    assert r.status_code == 200 and len(tokens) == 1 and len(memberships) == 1
    from fangkong.core.access import user_has_perm
    from fangkong.core.tokens import token_user

    authcache.clear()
    with CaptureQueriesContext(connection) as q:
        user = token_user(raw)
        assert user_has_perm(user, "people.view") and not user_has_perm(user, "platform.admin")
    assert [x["sql"] for x in q.captured_queries if "core_apitoken" not in x["sql"]] == []
    bob = token_user(token_issue(user=world.bob, name="t")[1])
    assert user_has_perm(bob, "people.view") and not user_has_perm(bob, "people.delete")
    officer = token_user(token_issue(user=world.officer, name="t")[1])
    assert user_has_perm(officer, "people.delete") and not user_has_perm(officer, "self.checkin")


def test_the_token_brings_the_organisations_of_the_memberships(world, make_person):
    """Direct organisation memberships and unit memberships both name their organisation (PostgreSQL)."""
    if connection.vendor != "postgresql":
        pytest.skip("organisations come with the token on PostgreSQL")
    from fangkong.conftest import make_user
    from fangkong.core.tokens import ORGANIZATIONS_ATTR, token_user

    user = make_user("two_orgs")
    tenancy.membership_grant(user=user, role=Role.MEMBER, unit=world.workshop1, actor=world.admin)
    raw = token_issue(user=user, name="t")[1]
    assert getattr(token_user(raw), ORGANIZATIONS_ATTR) == (world.factory.pk,)
    tenancy.membership_grant(user=user, role=Role.MEMBER, organization=world.other_org, actor=world.admin)
    assert sorted(getattr(token_user(raw), ORGANIZATIONS_ATTR)) == sorted([world.factory.pk, world.other_org.pk])
    lonely = make_user("no_memberships")
    assert getattr(token_user(token_issue(user=lonely, name="t")[1]), ORGANIZATIONS_ATTR) == ()
    loaded = token_user(raw)
    assert loaded.pk == user.pk and loaded.username == "two_orgs" and loaded.is_active and not loaded._state.adding


def test_revoked_token_is_refused_at_once(client, world):
    token, raw = token_issue(user=world.alice, name="t")
    assert client.get("/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    token_revoke(token=token, actor=world.alice)
    assert client.get("/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_deactivated_user_is_refused_at_once(client, world):
    _t, raw = token_issue(user=world.alice, name="t")
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    world.alice.is_active = False
    world.alice.save()
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_removed_role_takes_the_permission_away_at_once(client, world):
    _t, raw = token_issue(user=world.bob, name="t")
    assert client.get("/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    tenancy.membership_revoke(membership=Membership.objects.get(user=world.bob), actor=world.admin)
    assert client.get("/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 403


def test_granted_role_takes_effect_at_once(client, world, make_person):
    make_person()
    _t, raw = token_issue(user=world.charlie, name="t")
    person_ids = lambda: [p["id"] for p in client.get(  # noqa: E731
        "/api/v1/people", HTTP_AUTHORIZATION=f"Bearer {raw}").json()["items"]]
    from fangkong.people.models import Person

    assert person_ids() == []
    tenancy.membership_grant(user=world.charlie, role=Role.ORG_ADMIN, organization=world.factory, actor=world.admin)
    assert set(person_ids()) == set(Person.objects.filter(organization=world.factory).values_list("id", flat=True))


def test_other_tenant_still_gets_404_with_a_warm_cache(client, world, make_person):
    person = make_person()
    _t, raw = token_issue(user=world.charlie, name="t")
    for _ in range(3):
        assert client.get(f"/api/v1/people/{person.pk}", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 404
    _t, alice = token_issue(user=world.alice, name="t")
    assert client.get(f"/api/v1/people/{person.pk}", HTTP_AUTHORIZATION=f"Bearer {alice}").status_code == 200


def test_a_change_made_by_another_process_applies_once_the_shared_version_moves(client, world, settings):
    """Another process revokes: no signal here, only its bump of the version in the shared cache."""
    settings.AUTH_CACHE_CHECK = 0
    token, raw = token_issue(user=world.alice, name="t")
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.created_at)  # a bulk update: no signal
    # Still cached: this process was told nothing.
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    cache.set(authcache.VERSION_KEY, "bumped-by-another-process", None)
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_entries_expire_after_the_ttl(client, world, settings):
    settings.AUTH_CACHE_TTL = 0  # the bound when no version can travel
    token, raw = token_issue(user=world.alice, name="t")
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 200
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.created_at)
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 401


def test_unknown_tokens_are_not_cached(client, world):
    for _ in range(2):
        r, tokens, _m = _auth_queries(client, "/api/v1/me", "fk_not-a-token")
        assert r.status_code == 401 and len(tokens) == 1


def test_handed_out_users_are_copies(world):
    from fangkong.core.tokens import token_user

    _t, raw = token_issue(user=world.alice, name="t")
    first = token_user(raw)
    first.first_name = "changed by a request"
    assert token_user(raw).first_name != "changed by a request"


def test_last_used_is_recorded_in_batches(client, world):
    from fangkong.core import tokens

    t1, raw1 = token_issue(user=world.alice, name="t1")
    t2, raw2 = token_issue(user=world.bob, name="t2")
    tokens._flushed_at[0] = 0.0  # a minute has passed since this process last flushed
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw1}").status_code == 200
    t1.refresh_from_db()
    assert t1.last_used_at is not None
    # Within the minute the next token's use is queued, not written: no write transaction on the request.
    with CaptureQueriesContext(connection) as q:
        assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw2}").status_code == 200
    assert not any(x["sql"].startswith("UPDATE") for x in q.captured_queries)
    tokens._flushed_at[0] = 0.0
    assert client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {raw1}").status_code == 200
    t2.refresh_from_db()
    assert t2.last_used_at is not None
