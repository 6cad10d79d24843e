"""The scan API on the real database: decisions, replay, batches with bad items, forged tokens, other tenants."""

from __future__ import annotations

from datetime import timedelta

from django.core import signing
from django.utils import timezone

from fangkong.access import services
from fangkong.access.models import Scan
from fangkong.notify.models import Notification


def _now() -> str:
    return timezone.now().isoformat()


def test_scan_admit_then_exit_closes_interval(world, make_person, gate_venue, api):
    person = make_person()
    alice = api(world.alice)
    r = alice.post("/scans", {"venue_id": gate_venue.pk, "person_id": person.pk, "at": _now(),
                              "temperature": "36.6", "health_code": "green"})
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["decision"] == "admit" and body["reasons"][0]["code"] == "admitted"
    person.refresh_from_db()
    assert person.health_code == "green"
    occ = alice.get(f"/venues/{gate_venue.pk}/occupancy").json()
    assert occ["inside"] == 1
    r = alice.post("/scans", {"venue_id": gate_venue.pk, "person_id": person.pk, "direction": "exit",
                              "at": _now()})
    assert r.status_code == 201
    entry = Scan.objects.get(pk=body["id"])
    assert entry.left_at is not None and not entry.estimated_exit
    assert alice.get(f"/venues/{gate_venue.pk}/occupancy").json()["inside"] == 0


def test_replay_returns_first_result_and_stores_one_row(world, make_person, gate_venue, api):
    person = make_person()
    alice = api(world.alice)
    payload = {"venue_id": gate_venue.pk, "person_id": person.pk, "at": _now(), "temperature": "36.5",
               "device_id": "gate-1", "client_key": "k-1"}
    first = alice.post("/scans", payload)
    again = alice.post("/scans", {**payload, "temperature": "38.5"})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["replay"] is True
    assert again.json()["decision"] == "admit"
    assert Scan.objects.filter(client_key="k-1").count() == 1


def test_fever_refused_and_prevention_office_alerted(world, make_person, gate_venue, api):
    person = make_person(name="李发热")
    r = api(world.alice).post("/scans", {"venue_id": gate_venue.pk, "person_id": person.pk, "at": _now(),
                                         "temperature": "38.2"})
    assert r.json()["decision"] == "refuse"
    assert r.json()["reasons"][0]["code"] == "fever"
    alert = Notification.objects.get(recipient=world.alice, event="access.fever")
    assert "李发热" in alert.title and alert.level == "alert"
    assert "发热门诊" in alert.body


def test_cross_tenant_is_404(world, make_person, gate_venue, other_venue, api):
    person = make_person()
    charlie = api(world.charlie)
    assert charlie.get(f"/venues/{gate_venue.pk}").status_code == 404
    assert charlie.get(f"/venues/{gate_venue.pk}/occupancy").status_code == 404
    r = charlie.post("/scans", {"venue_id": gate_venue.pk, "person_id": person.pk, "at": _now()})
    assert r.status_code == 404
    r = charlie.post("/scans", {"venue_token": services.venue_token(gate_venue), "person_id": person.pk,
                                "at": _now()})
    assert r.status_code == 404
    # Alice's person scanned into charlie's venue: the person is not on that ledger.
    r = charlie.post("/scans", {"venue_id": other_venue.pk, "person_id": person.pk, "at": _now()})
    assert r.status_code == 404
    assert not Scan.objects.exists()
    assert all(v["id"] != gate_venue.pk for v in charlie.get("/venues").json())
    # The same in a batch (its venues come from the per-process cache): per item, with alice's venue cached warm.
    api(world.alice).post("/scans", {"venue_id": gate_venue.pk, "person_id": person.pk, "at": _now()})
    r = charlie.post("/scans/batch", {"items": [
        {"venue_id": gate_venue.pk, "person_id": person.pk, "at": _now(), "client_key": "x1"},
        {"venue_token": services.venue_token(gate_venue), "person_id": person.pk, "at": _now(), "client_key": "x2"},
    ]})
    assert r.status_code == 200 and [i["ok"] for i in r.json()["results"]] == [False, False]
    assert all("不存在或无权访问" in i["message"] for i in r.json()["results"])
    assert Scan.objects.count() == 1


def test_forged_and_rotated_tokens(world, make_person, gate_venue, api):
    person = make_person()
    alice = api(world.alice)
    token = services.venue_token(gate_venue)
    forged = signing.dumps([gate_venue.pk, 1], salt="something-else", compress=True)
    r = alice.post("/scans", {"venue_token": forged, "person_id": person.pk, "at": _now()})
    assert r.status_code == 400 and "伪造或被篡改" in r.json()["message"]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    r = alice.post("/scans", {"venue_token": tampered, "person_id": person.pk, "at": _now()})
    assert r.status_code == 400 and "签名校验失败" in r.json()["message"]
    r = alice.post("/scans", {"venue_token": token, "person_id": person.pk, "at": _now()})
    assert r.status_code == 201
    services.venue_rotate_code(venue=gate_venue, actor=world.alice)
    r = alice.post("/scans", {"venue_token": token, "person_id": person.pk, "at": _now()})
    assert r.status_code == 400 and "已更换" in r.json()["message"]


def test_batch_mixed_items(world, make_person, gate_venue, api):
    p1, p2 = make_person(), make_person()
    now = timezone.now()
    past = (now - timedelta(hours=3)).isoformat()
    items = [
        {"venue_id": gate_venue.pk, "person_id": p1.pk, "at": past, "temperature": "36.4", "client_key": "a"},
        {"venue_id": gate_venue.pk, "person_id": p1.pk, "direction": "exit",
         "at": (now - timedelta(hours=2)).isoformat(), "client_key": "b"},
        {"venue_token": "garbage", "person_id": p2.pk, "at": past},
        {"venue_id": gate_venue.pk, "person_id": p2.pk, "at": (now + timedelta(hours=1)).isoformat()},
        {"venue_id": gate_venue.pk, "person_id": p2.pk, "direction": "exit", "at": past},
        {"venue_id": gate_venue.pk, "person_id": 999999, "at": past},
        {"venue_id": gate_venue.pk, "at": past},
        {"venue_id": gate_venue.pk, "person_id": p2.pk, "at": past, "temperature": "38.0"},
        {"venue_id": gate_venue.pk, "person_id": p1.pk, "at": past, "temperature": "36.4", "client_key": "a"},
    ]
    r = api(world.alice).post("/scans/batch", {"items": items})
    assert r.status_code == 200, r.content
    body = r.json()
    res = body["results"]
    assert [x["ok"] for x in res] == [True, True, False, False, False, False, False, True, True]
    assert body["stored"] == 3 and body["failed"] == 5 and body["replayed"] == 1
    assert "场所码无效" in res[2]["message"] and res[2]["message"].startswith("第 3 条")
    assert "5 分钟" in res[3]["message"]
    assert "没有未结束的进入记录" in res[4]["message"]
    assert "不在该场所所属单位的台账中" in res[5]["message"]
    assert "person_id" in res[6]["errors"]
    assert res[7]["decision"] == "refuse"
    assert res[8]["replay"] and res[8]["id"] == res[0]["id"]
    entry = Scan.objects.get(pk=res[0]["id"])
    assert entry.left_at is not None
    assert Scan.objects.get(pk=res[1]["id"]).entry_id == entry.pk
    # The same batch again stores nothing new for the keyed items.
    again = api(world.alice).post("/scans/batch", {"items": items[:2]}).json()
    assert again["replayed"] == 2 and Scan.objects.count() == 3


def test_batch_over_limit(world, gate_venue, api):
    items = [{"venue_id": gate_venue.pk, "person_id": 1, "at": _now()}] * 1001
    r = api(world.alice).post("/scans/batch", {"items": items})
    assert r.status_code == 400 and "1000" in r.json()["message"]


def test_list_scans_filters(world, make_person, gate_venue, api):
    person = make_person()
    alice = api(world.alice)
    alice.post("/scans", {"venue_id": gate_venue.pk, "person_id": person.pk,
                          "at": (timezone.now() - timedelta(days=2)).isoformat()})
    alice.post("/scans", {"venue_id": gate_venue.pk, "person_id": person.pk, "at": _now()})
    frm = (timezone.now() - timedelta(days=1)).isoformat()
    body = alice.get("/scans", venue=gate_venue.pk, person=person.pk, **{"from": frm}).json()
    assert body["count"] == 1
    assert api(world.charlie).get("/scans").json()["count"] == 0


def test_overdue_entries_closed_as_estimated(world, make_person, gate_venue, api):
    person = make_person()
    at = timezone.now() - timedelta(hours=3)
    api(world.alice).post("/scans", {"venue_id": gate_venue.pk, "person_id": person.pk, "at": at.isoformat()})
    assert services.close_overdue_entries() == 1
    entry = Scan.objects.get()
    assert entry.estimated_exit and entry.left_at == entry.at + timedelta(minutes=60)


def test_measure_and_visitor_rules_from_ledger(world, make_person, gate_venue, api):
    quarantined = make_person(kind="employee")
    quarantined.measure_kind, quarantined.measure_until = "home_quarantine", timezone.localdate()
    quarantined.save()
    visitor = make_person(kind="visitor")
    alice = api(world.alice)
    r = alice.post("/scans", {"venue_id": gate_venue.pk, "person_id": quarantined.pk, "at": _now()})
    assert r.json()["reasons"][0]["code"] == "under_measure"
    r = alice.post("/scans", {"venue_id": gate_venue.pk, "person_id": visitor.pk, "at": _now()})
    assert r.json()["reasons"][0]["code"] == "visitor_no_appointment"
    host = make_person(id_number="11010519491231002X")  # a known-valid number: the rng's next one is not
    visit = services.visit_book(organization=world.factory, host=host, name=visitor.name,
                                id_number=visitor.id_number, phone="13800000000", purpose="送货",
                                starts_at=timezone.now(), ends_at=timezone.now() + timedelta(hours=2))
    assert visit.visitor_id == visitor.pk  # de-duplicated by ID number
    services.visit_decide(visit=visit, approve=True, actor=world.alice)
    r = alice.post("/scans", {"venue_id": gate_venue.pk, "person_id": visitor.pk, "at": _now()})
    assert r.json()["decision"] == "admit"
    visit.refresh_from_db()
    assert visit.status == "arrived"


def test_venue_and_vehicle_crud(world, make_person, api):
    alice = api(world.alice)
    r = alice.post("/venues", {"organization_id": world.factory.pk, "name": "一号会议室", "kind": "meeting_room",
                               "capacity": 100})
    assert r.status_code == 201 and r.json()["token"]
    r = alice.post("/venues", {"organization_id": world.factory.pk, "name": "一号会议室", "kind": "meeting_room"})
    assert r.status_code == 400 and "已有名为" in r.json()["message"]
    assert api(world.charlie).post("/venues", {"organization_id": world.factory.pk, "name": "x"}).status_code == 404
    driver = make_person(kind="visitor")
    r = alice.post("/vehicles", {"organization_id": world.factory.pk, "plate": "晋d 12345", "driver_id": driver.pk,
                                 "origin": "长治", "disinfected": True, "disinfected_by": "王五",
                                 "disinfectant": "含氯消毒液"})
    assert r.status_code == 201, r.content
    assert r.json()["plate"] == "晋D12345" and r.json()["disinfected_at"]
    r = alice.post("/vehicles", {"organization_id": world.factory.pk, "plate": "ABC", "driver_id": driver.pk})
    assert r.status_code == 400 and "车牌号" in r.json()["message"]


def test_batch_replays_match_the_exact_device_and_key_pair(world, make_person, gate_venue, api):
    # The replay look-up joins the batch's (device, key) pairs to the unique index: a key seen before from another
    # device, or a device seen before with another key, is a new scan.
    person = make_person()
    past = (timezone.now() - timedelta(hours=1)).isoformat()

    def item(device: str, key: str) -> dict:
        return {"venue_id": gate_venue.pk, "person_id": person.pk, "at": past, "device_id": device, "client_key": key}

    first = api(world.alice).post("/scans/batch", {"items": [item("gate-a", "k1"), item("gate-b", "k2")]}).json()
    assert first["stored"] == 2
    again = api(world.alice).post("/scans/batch", {"items": [
        item("gate-b", "k1"), item("gate-a", "k2"), item("gate-a", "k1"), item("gate-c", "k1")]}).json()
    assert [r["replay"] for r in again["results"]] == [False, False, True, False]
    assert again["results"][2]["id"] == first["results"][0]["id"]
    assert again["stored"] == 3 and Scan.objects.count() == 5


def test_a_client_key_is_a_replay_only_within_its_organisation(world, make_person, gate_venue, other_venue, api):
    """Two organisations' gates may send the same device name and key: the second must get its own scan stored,
    never the first organisation's scan back as 'its' replay (single scans and batches alike)."""
    ours, theirs = make_person(), make_person(organization=world.other_org)
    key = {"device_id": "g1", "client_key": "k1", "at": _now()}
    first = api(world.alice).post("/scans", {"venue_id": gate_venue.pk, "person_id": ours.pk, **key})
    assert first.status_code == 201
    other = api(world.charlie).post("/scans", {"venue_id": other_venue.pk, "person_id": theirs.pk, **key})
    assert other.status_code == 201, other.content
    assert other.json()["replay"] is False and other.json()["person_id"] == theirs.pk
    assert other.json()["id"] != first.json()["id"]
    batch = api(world.charlie).post("/scans/batch", {"items": [
        {"venue_id": other_venue.pk, "person_id": theirs.pk, **key},  # its own replay now
        {"venue_id": other_venue.pk, "person_id": theirs.pk, **key, "client_key": "k2"}]}).json()
    assert [r["replay"] for r in batch["results"]] == [True, False]
    assert batch["results"][0]["id"] == other.json()["id"]
    theirs_first = api(world.alice).post("/scans/batch", {"items": [
        {"venue_id": gate_venue.pk, "person_id": ours.pk, **key, "client_key": "k2"}]}).json()
    assert theirs_first["stored"] == 1  # k2 was the other organisation's
    assert Scan.objects.filter(client_key__in=["k1", "k2"]).count() == 4
