"""A new or raised risk area re-evaluates exactly the people it affects, set-based, idempotently."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from fangkong.measures.models import Measure
from fangkong.policy import selectors, services
from fangkong.policy.models import Arrival, ReevaluationRun, Stay

pytestmark = pytest.mark.django_db

D = date(2021, 9, 20)


@pytest.fixture(autouse=True)
def _today(time_machine):
    time_machine.move_to("2021-09-20 10:00 +0800", tick=False)


def stay(person, code, days_ago_to, length=3, locality=""):
    to = D - timedelta(days=days_ago_to)
    return Stay.objects.create(person=person, region_id=code, locality=locality, from_date=to - timedelta(days=length),
                               to_date=to)


@pytest.fixture
def population(world, make_person, rng):
    """People with a known answer for "130109 (藁城区) becomes high risk on D"."""
    people = {}
    counter = iter(range(10_000))

    def make_person(organization=None, name=""):  # passports: the ID checksum date check reads the real clock
        from fangkong.people.services import person_create

        return person_create(organization=organization or world.factory, actor=world.admin, name=name,
                             id_type="passport", id_number=f"E{next(counter):08d}")

    people["in_area"] = make_person(name="在藁城区")          # stayed there 3 days ago → centralized 14
    stay(people["in_area"], "130109", 3)
    Arrival.objects.create(person=people["in_area"], arrived_on=D - timedelta(days=2))
    people["in_area_township"] = make_person(name="藁城区乡镇")  # a township under the county: covered by prefix
    Stay.objects.create(person=people["in_area_township"], region_id="130109", from_date=D - timedelta(days=5),
                        to_date=D - timedelta(days=1))
    people["same_city"] = make_person(name="同市长安区")        # another county of 石家庄 → 7+2 home quarantine
    stay(people["same_city"], "130102", 2)
    people["too_long_ago"] = make_person(name="一月前")        # last day 30 days ago: outside every look-back
    stay(people["too_long_ago"], "130109", 30)
    people["elsewhere"] = make_person(name="本地")             # stayed at home
    stay(people["elsewhere"], "140428", 1)
    people["other_tenant"] = make_person(organization=world.other_org, name="太原医院职工")  # the area doesn't count
    stay(people["other_tenant"], "130109", 2)
    # Noise: many people with stays elsewhere, to check the query does not pick them up.
    for i in range(30):
        p = make_person(name=f"噪声{i}")
        stay(p, rng.choice(["140428", "140105", "110105", "130402"]), rng.randrange(0, 20))
    return people


def test_reevaluation_finds_exactly_the_affected(world, population, city_policy, django_capture_on_commit_callbacks,
                                                 monkeypatch):
    from fangkong.measures import services as measure_services
    from fangkong.measures.models import MeasureTest
    from fangkong.obligations.models import Obligation

    monkeypatch.setattr(measure_services, "OBLIGATIONS_COPY_THRESHOLD", 0)  # the set-based path of big runs
    with django_capture_on_commit_callbacks(execute=True):
        area = services.risk_area_announce(jurisdiction=world.city, region_code="130109", level="high",
                                           effective_from=D, actor=world.officer)
    run = ReevaluationRun.objects.get(risk_area=area)
    assert run.status == "done" and run.total == 3 and run.processed == 3 and run.created == 3
    got = {m.person.name: (m.kind, m.start_date, m.end_date) for m in Measure.objects.select_related("person")}
    assert got == {
        # Arrived D-2: 14 days counted from arrival, found on D → starts D, keeps its end (填平补齐).
        "在藁城区": ("centralized_quarantine", D, D - timedelta(days=2) + timedelta(days=13)),
        # No arrival on file: counted from the evaluation date.
        "藁城区乡镇": ("centralized_quarantine", D, D + timedelta(days=13)),
        "同市长安区": ("home_quarantine", D, D + timedelta(days=6)),
    }
    # Running the same re-evaluation again creates nothing.
    run2 = ReevaluationRun.objects.create(risk_area=area, evaluation_date=D)
    tests = MeasureTest.objects.count()
    assert tests > 0 and Obligation.objects.filter(source__startswith="measure:").count() == tests
    assert services.reevaluate_run(run2.pk).created == 0
    assert Measure.objects.count() == 3 and Obligation.objects.count() == tests


def test_affected_query_uses_prefix_and_window(world, population):
    area = services.risk_area_announce(jurisdiction=world.city, region_code="130109", level="high",
                                       effective_from=D, actor=world.officer, reevaluate=False)
    names = set(Stay.objects.filter(person_id__in=selectors.affected_person_ids(area, D)).values_list(
        "person__name", flat=True))
    assert names == {"在藁城区", "藁城区乡镇", "同市长安区"}


def test_lowering_does_not_queue_but_raising_does(world, city_policy, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        area = services.risk_area_announce(jurisdiction=world.city, region_code="130109", level="low",
                                           effective_from=D - timedelta(days=5), actor=world.officer)
    assert not ReevaluationRun.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        raised = services.risk_area_change_level(area=area, level="medium", effective_from=D, actor=world.officer)
    assert ReevaluationRun.objects.filter(risk_area=raised, status="done").count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        services.risk_area_end(area=raised, ended_on=D + timedelta(days=1), actor=world.officer)
    assert ReevaluationRun.objects.count() == 1


def test_progress_fragment_and_pages(client, world, population, city_policy, django_capture_on_commit_callbacks):
    client.force_login(world.officer)
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post("/policy/risk-areas/new/", {"region_code": "130109", "level": "high",
                                                     "effective_from": D.isoformat()})
    assert r.status_code == 302, r.content.decode()[:2000]
    area_id = int(r["Location"].rstrip("/").split("/")[-1])
    run = ReevaluationRun.objects.get()
    page = client.get(f"/policy/risk-areas/{area_id}/").content.decode()
    assert f"run-{run.pk}" in page and "已处理 3 / 3 人" in page
    assert client.get(f"/policy/runs/{run.pk}/").status_code == 200
    listing = client.get("/policy/risk-areas/?as_of=2021-09-20").content.decode()
    assert "藁城区" in listing
    assert "藁城区" not in client.get("/policy/risk-areas/?as_of=2021-09-19").content.decode().split("risk-areas")[-1]
    person = population["in_area"]
    page = client.get(f"/measures/person/{person.pk}/").content.decode()
    assert "集中隔离医学观察" in page and "藁城区" in page
    # charlie sees neither the person's page nor the run.
    client.force_login(world.charlie)
    assert client.get(f"/measures/person/{person.pk}/").status_code == 404
    assert client.get(f"/policy/runs/{run.pk}/").status_code == 404


def test_an_import_of_many_areas_queues_one_run_that_covers_them_all(
        client, world, population, city_policy, django_capture_on_commit_callbacks):
    import json

    # 130109 (藁城区) high and 130102 (长安区) medium; a low area of another city changes nobody's measure.
    rows = [{"区划代码": "130109", "风险等级": "高", "生效日期": D.isoformat()},
            {"区划代码": "130102", "风险等级": "中", "生效日期": D.isoformat()},
            {"区划代码": "140105", "风险等级": "低", "生效日期": D.isoformat()}]
    with django_capture_on_commit_callbacks(execute=True):
        result = services.risk_areas_import(jurisdiction=world.city, data=json.dumps(rows).encode(), filename="a.json",
                                            actor=world.officer)
    assert len(result.created) == 3
    run = ReevaluationRun.objects.get()  # one run, not one per row
    assert run.status == "done" and run.total == 3 and run.created == 3
    assert run.risk_area.region_id == "130109"
    assert [a.region_id for a in run.also_areas.all()] == ["130102"]
    assert set(Measure.objects.values_list("person__name", flat=True)) == {"在藁城区", "藁城区乡镇", "同市长安区"}
    # The run shows on the page of every area it covers, naming how many more it covered.
    client.force_login(world.officer)
    medium = result.created[1]
    page = client.get(f"/policy/risk-areas/{medium.pk}/").content.decode()
    assert f"run-{run.pk}" in page and "及另外 1 个地区" in page
