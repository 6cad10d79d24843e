from __future__ import annotations

import json

import pytest

from fangkong.core.models import AuditEvent
from fangkong.core.tokens import token_issue
from fangkong.people.models import Person

pytestmark = pytest.mark.django_db


def bearer(user):
    _t, raw = token_issue(user=user, name="t")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


def test_create_list_and_mask(client, world):
    auth = bearer(world.alice)
    body = {"name": "张三", "id_number": "11010519491231002X", "phone": "13812345678", "kind": "employee",
            "unit_id": world.workshop1.pk, "organization_id": world.factory.pk}
    r = client.post("/api/v1/people", json.dumps(body), content_type="application/json", **auth)
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["id_number"] == "110105********002X"
    assert data["phone"] == "138****5678"
    assert data["gender"] == "female"
    r = client.get("/api/v1/people?q=11010519491231002x", **auth)
    assert r.json()["count"] == 1
    # Stored encrypted: the raw column holds neither the number nor the phone.
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("select id_number, phone from people_person where id = %s", [data["id"]])
        raw_id, raw_phone = cur.fetchone()
    assert "11010519491231002X" not in raw_id and "13812345678" not in raw_phone


def test_bad_id_number_is_a_field_error(client, world):
    body = {"name": "李四", "id_number": "110105194912310021", "organization_id": world.factory.pk}
    r = client.post("/api/v1/people", json.dumps(body), content_type="application/json", **bearer(world.alice))
    assert r.status_code == 400
    assert r.json()["errors"]["id_number"] == ["身份证号校验位不正确"]
    assert Person.objects.count() == 0


def test_duplicate_id_in_one_organization_is_refused(client, world, make_person):
    p = make_person()
    body = {"name": "重复", "id_number": p.id_number, "organization_id": world.factory.pk}
    r = client.post("/api/v1/people", json.dumps(body), content_type="application/json", **bearer(world.alice))
    assert r.status_code == 400
    assert "id_number" in r.json()["errors"]


def test_other_tenant_gets_404_and_changes_nothing(client, world, make_person):
    p = make_person(unit=world.workshop1)
    auth = bearer(world.charlie)
    assert client.get(f"/api/v1/people/{p.pk}", **auth).status_code == 404
    r = client.patch(f"/api/v1/people/{p.pk}", json.dumps({"name": "改名"}), content_type="application/json", **auth)
    assert r.status_code == 404
    assert client.delete(f"/api/v1/people/{p.pk}", **auth).status_code == 404
    p.refresh_from_db()
    assert p.name != "改名" and p.is_active
    assert client.get("/api/v1/people", **auth).json()["count"] == 0


def test_unit_leader_sees_only_their_unit(client, world, make_person):
    inside = make_person(unit=world.team1)
    outside = make_person(unit=world.workshop2)
    auth = bearer(world.bob)
    ids = {item["id"] for item in client.get("/api/v1/people", **auth).json()["items"]}
    assert ids == {inside.pk}
    assert client.get(f"/api/v1/people/{outside.pk}", **auth).status_code == 404
    # A unit leader may not unmask.
    assert client.get(f"/api/v1/people/{inside.pk}?unmasked=true", **auth).status_code == 403


def test_unmask_is_audited(client, world, make_person):
    p = make_person()
    r = client.get(f"/api/v1/people/{p.pk}?unmasked=true", **bearer(world.alice))
    assert r.json()["id_number"] == p.id_number
    assert AuditEvent.objects.filter(action="person.unmask.id_number", object_id=str(p.pk), actor=world.alice).exists()


def test_patch_flags_and_audit_masks_personal_values(client, world, make_person):
    p = make_person()
    body = {"no_home_conditions": True, "post_category": "other_high_risk", "phone": "13900001111"}
    r = client.patch(f"/api/v1/people/{p.pk}", json.dumps(body), content_type="application/json",
                     **bearer(world.alice))
    assert r.status_code == 200, r.content
    assert r.json()["post_category"] == "other_high_risk"
    event = AuditEvent.objects.filter(action="person.update", object_id=str(p.pk)).get()
    assert event.changes["phone"][1] == "139****1111"


def test_token_required(client, world):
    assert client.get("/api/v1/people").status_code == 401
    assert client.get("/api/v1/people", HTTP_AUTHORIZATION="Bearer fk_nope").status_code == 401
