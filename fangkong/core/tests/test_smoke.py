"""The end-to-end smoke path that also runs on SQLite (`make test` runs `pytest -m smoke` with no DATABASE_URL):
migrated schema, loaded regions, an organisation and a person made through the services, read back through the API
and through pages, with personal data masked on the way out and encrypted at rest."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from fangkong.core.tokens import token_issue
from fangkong.geo.models import Region
from fangkong.people.services import person_create
from fangkong.tenancy import services as tenancy
from fangkong.tenancy.roles import Role

pytestmark = [pytest.mark.smoke, pytest.mark.django_db]

ID_NUMBER = "11010519491231002X"  # the checksum-valid example of GB 11643
PHONE = "13812345678"


@pytest.fixture
def smoke_org(world):
    org = tenancy.organization_create(
        name="长子县冒烟测试厂", kind="enterprise", region_code="140428", jurisdiction=world.county,
        authority=world.bureau, actor=world.admin, taskforce_template="enterprise",
    )
    owner = world.alice.__class__.objects.create_user(username="smoke-owner", password="pw-smoke-owner")
    tenancy.membership_grant(user=owner, role=Role.ORG_ADMIN, organization=org, actor=world.admin)
    person = person_create(organization=org, name="冒烟测试", id_number=ID_NUMBER, phone=PHONE, kind="employee",
                           actor=owner)
    return org, owner, person


def test_schema_and_regions_are_in_place():
    # Every migration applied and the divisions loaded, on whichever database runs (`make lint` checks that no
    # migration is missing).
    executor = MigrationExecutor(connection)
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    assert Region.objects.get(code="140428").full_name == "山西省长治市长子县"
    assert Region.objects.filter(level=Region.Level.PROVINCE).count() >= 31


def test_person_made_by_the_service_reads_back_masked_through_the_api(client, world, smoke_org):
    org, owner, person = smoke_org
    _token, raw = token_issue(user=owner, name="smoke")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}

    me = client.get("/api/v1/me", **auth)
    assert me.status_code == 200, me.content
    assert me.json()["username"] == "smoke-owner"

    orgs = client.get("/api/v1/organizations", **auth).json()
    names = [o["name"] for o in (orgs["items"] if isinstance(orgs, dict) else orgs)]
    assert names == ["长子县冒烟测试厂"]

    r = client.get(f"/api/v1/people/{person.pk}", **auth)
    assert r.status_code == 200, r.content
    data = r.json()
    assert (data["name"], data["id_number"], data["phone"]) == ("冒烟测试", "110105********002X", "138****5678")
    assert data["organization_id"] == org.pk

    # Encrypted at rest: the stored columns hold neither value.
    with connection.cursor() as cur:
        cur.execute("select id_number, phone from people_person where id = %s", [person.pk])
        raw_id, raw_phone = cur.fetchone()
    assert ID_NUMBER not in raw_id and PHONE not in raw_phone

    # Another tenant sees nothing of it: 404, not 403.
    _t, other = token_issue(user=world.charlie, name="smoke")
    assert client.get(f"/api/v1/people/{person.pk}", HTTP_AUTHORIZATION=f"Bearer {other}").status_code == 404


def test_pages_render_for_the_owner(client, world, smoke_org):
    _org, owner, _person = smoke_org
    client.force_login(owner)
    page = client.get("/audit/", {"action": "person."})
    assert page.status_code == 200
    body = page.content.decode()
    assert "person.create" in body and "冒烟测试" in body
    # The audit trail masks personal values too.
    assert ID_NUMBER not in body and "110105********002X" in body
    assert client.get("/tokens/").status_code == 200
    assert client.get("/login/").status_code == 302  # signed in already: sent on to the dashboard


def test_sign_in_page_is_public_and_translated(client):
    page = client.get("/login/").content.decode()
    assert "用户名或手机号" in page and "· 防控 Fangkong</title>" in page
    client.cookies["django_language"] = "en"
    page = client.get("/login/").content.decode()
    assert "Username or phone" in page
    assert "· Fangkong</title>" in page and "Fangkong Fangkong" not in page  # the brand once, in either language


@pytest.mark.django_db
def test_api_docs_are_served_from_our_own_static_files(client):
    """The interactive docs must work without the internet: no CDN, Ninja's bundled Swagger UI as static files."""
    from django.contrib.staticfiles import finders

    page = client.get("/api/v1/docs").content.decode()
    assert "cdn.jsdelivr.net" not in page
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert finders.find("ninja/swagger-ui-bundle.js")
