from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from stdnum.cn import ric

from fangkong.core.models import AuditEvent
from fangkong.people.models import Person
from fangkong.tenancy import demo
from fangkong.tenancy.models import Jurisdiction, Membership, Organization, Taskforce, TaskforceMember, Unit
from fangkong.tenancy.scope import has_perm

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_builds_the_demo_world(seeded):
    city = Jurisdiction.objects.get(name="长治市疫情防控指挥部", region_id="1404")
    county = Jurisdiction.objects.get(name="长子县疫情防控指挥部", region_id="140428")
    assert county.parent == city and county.path == f"{city.path}{county.pk}/"
    factory = Organization.objects.get(kind="enterprise", jurisdiction=county)
    assert factory.authority.name == "长子县工业和信息化局" and factory.authority.sector == "industry"
    hospital = Organization.objects.get(kind="hospital", jurisdiction=county)
    school = Organization.objects.get(kind="school", jurisdiction=county)

    workshops = Unit.objects.filter(organization=factory, kind="workshop")
    assert workshops.count() == 3
    assert all(2 <= w.children.filter(kind="team").count() <= 3 for w in workshops)
    assert all(u.path == u.expected_path() for u in Unit.objects.all())
    assert {"发热门诊", "预检分诊", "内科", "外科", "检验科"} <= set(
        Unit.objects.filter(organization=hospital).values_list("name", flat=True))

    people = Person.objects.filter(organization=factory)
    assert 550 <= people.count() <= 700
    assert 0 < people.filter(kind="contractor").count() < people.count() / 4
    assert 250 <= Person.objects.filter(organization=hospital).count() <= 350
    fever = Person.objects.filter(organization=hospital, unit__name="发热门诊")
    assert fever.exists() and not fever.exclude(post_category="fever_clinic").exists()
    assert not Person.objects.filter(post_category="fever_clinic").exclude(unit__name="发热门诊").exists()
    school_people = Person.objects.filter(organization=school)
    assert 950 <= school_people.count() <= 1100
    assert school_people.filter(kind="teacher").exists() and school_people.filter(kind="student").count() > 900

    for org in (factory, hospital):
        assert Taskforce.objects.filter(organization=org, kind="leading").count() == 1
        assert TaskforceMember.objects.filter(taskforce__organization=org, role="leader").count() >= 5
    assert TaskforceMember.objects.exclude(name="").count() == TaskforceMember.objects.count()

    # ONE audit event for the seeding, not one per row it created. Other apps' demo steps go through their services,
    # which audit what they do (visitors registered at the gate, health codes seen there, symptomatic flags).
    per_row = ("person.create", "unit.", "membership.", "organization.", "user.", "taskforce.", "jurisdiction.")
    visitors = {str(pk) for pk in Person.objects.filter(kind="visitor").values_list("pk", flat=True)}
    assert not [a for a, oid in AuditEvent.objects.values_list("action", "object_id")
                if a.startswith(per_row) and not (a == "person.create" and oid in visitors)]
    event = AuditEvent.objects.get(action="demo.seed")
    assert event.changes["people"][1] == Person.objects.exclude(kind="visitor").count()

    assert "fangkong-demo" in seeded and "workshop" in seeded


def test_every_id_number_passes_the_checksum_and_matches_its_derived_columns(seeded):
    rows = list(Person.objects.all())
    assert len(rows) > 1800
    numbers = [p.id_number for p in rows]  # decrypted on read
    assert all(ric.is_valid(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)
    p = rows[0]
    assert p.birth_date == ric.get_birth_date(p.id_number)
    assert p.id_number_masked == p.id_number[:6] + "********" + p.id_number[-4:]
    assert Person.objects.filter(name_sort="").count() == 0


def test_demo_logins_have_the_roles_they_demonstrate(seeded):
    User = get_user_model()
    for username in ("admin", "county", "bureau", "factory", "hospital", "school", "workshop", "gate", "worker"):
        assert authenticate(username=username, password=demo.PASSWORD) is not None, username
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and Membership.objects.filter(user=admin).count() >= 3  # switcher entries
    assert has_perm(User.objects.get(username="county"), "org.create")
    assert has_perm(User.objects.get(username="gate"), "scans.create")
    assert not has_perm(User.objects.get(username="workshop"), "org.change")
    factory = Organization.objects.get(kind="enterprise", name__startswith="长子县")
    worker = User.objects.get(username="worker")
    assert worker.person.organization == factory
    first_ws = Unit.objects.filter(organization=factory, kind="workshop").order_by("id").first()
    assert worker.person.unit.path.startswith(first_ws.path)
    assert Membership.objects.get(user__username="workshop").unit == first_ws
    assert first_ws.grid_leader.username == "workshop"
    # Workshop leader sees only their workshop's people.
    visible = Person.objects.visible_to(User.objects.get(username="workshop"))
    assert visible.exists() and not visible.exclude(unit__path__startswith=first_ws.path).exists()


def test_seed_demo_is_idempotent(seeded):
    counts = (Person.objects.count(), Unit.objects.count(), get_user_model().objects.count())
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "已存在" in out.getvalue()
    assert (Person.objects.count(), Unit.objects.count(), get_user_model().objects.count()) == counts


class _Undo(Exception):
    pass


def test_seed_demo_is_deterministic():
    def run_and_read() -> list[tuple[str, str]]:
        # Run inside a savepoint that is rolled back, so the second run starts from the same empty database.
        rows: list[tuple[str, str]] = []
        try:
            with transaction.atomic():
                assert demo.run_demo(seed=7, extra_steps=False) is not None
                rows = sorted(Person.objects.values_list("name", "id_number_hash"))
                raise _Undo
        except _Undo:
            pass
        return rows

    first = run_and_read()
    assert not Person.objects.exists() and len(first) > 1800
    assert run_and_read() == first


def test_seed_demo_refuses_in_production(settings):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="生产环境"):
        call_command("seed_demo", stdout=StringIO())
    assert not Jurisdiction.objects.exists()
