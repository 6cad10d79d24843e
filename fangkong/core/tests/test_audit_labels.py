"""Every audit action the code records has a name for the log's readers, and the log shows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import translation

from fangkong.core.audit import audit_record
from fangkong.core.audit_labels import ACTION_LABELS, action_label

SOURCES = Path(settings.BASE_DIR) / "fangkong"
LITERAL = re.compile(r"""action=["']([a-z_]+(?:\.[a-z_]+)+)["']|'([a-z_]+\.[a-z_]+)', 'people\.person'""")
# Actions built at run time, with every value they take.
BUILT = {
    'f"measure.export_{what}"': ["measure.export_record", "measure.export_certificate", "measure.export_notice"],
    'f"person.unmask.{field}"': ["person.unmask.id_number", "person.unmask.phone"],
    'f"travel.{status}"': ["travel.approved", "travel.refused"],
    'f"{what}.export"': ["scan.export", "visit.export", "vehicle.export"],
}


def _recorded_actions() -> set[str]:
    found: set[str] = set()
    for path in SOURCES.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        found |= {a or b for a, b in LITERAL.findall(text)}
        for pattern, values in BUILT.items():
            if f"action={pattern}" in text:
                found |= set(values)
        unknown = set(re.findall(r'action=(f"[^"]*")', text)) - set(BUILT)
        assert not unknown, f"{path}: an action built at run time that this test does not know: {unknown}"
    return found


def test_every_recorded_action_has_a_name():
    actions = _recorded_actions()
    assert len(actions) > 80
    missing = sorted(actions - set(ACTION_LABELS))
    assert not missing, f"add names to core/audit_labels.py: {missing}"


def test_an_unnamed_action_shows_its_code():
    assert action_label("something.new") == "something.new"
    with translation.override("en"):
        assert action_label("person.symptomatic_clear") == "Symptom flag cleared"


@pytest.mark.django_db
def test_the_log_shows_names_in_the_readers_language(client, world):
    audit_record(actor=world.admin, action="person.symptomatic_clear", object_type="people.person", object_id="1",
                 object_repr="安安", organization_id=world.factory.pk)
    client.force_login(world.admin)
    page = client.get("/audit/").content.decode()
    assert "解除症状标记" in page and "person.symptomatic_clear" in page  # the code stays, for searching
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    assert "Symptom flag cleared" in client.get("/audit/").content.decode()


@pytest.mark.django_db
def test_changes_name_the_fields_and_choices_of_the_object(client, world):
    from fangkong.measures.models import Measure

    audit_record(actor=world.admin, action="measure.confirm", object_type="measures.measure", object_id="7",
                 object_repr="安安", organization_id=world.factory.pk,
                 changes={"status": ["proposed", "confirmed"], "filters": [None, "q=安"],
                          "tests": [{"kind": "nat"}, [1, 2]]})  # values a JSON field records stay as they are
    client.force_login(world.admin)
    page = client.get("/audit/").content.decode()
    assert "<b>状态</b>：待确认 → 已确认" in page and "<b>filters</b>：∅ → q=安" in page  # unknown keys as recorded
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/audit/").content.decode()
    with translation.override("en"):
        status = Measure._meta.get_field("status").verbose_name
        expected = f"<b>{status}</b>: {Measure.Status.PROPOSED.label} → {Measure.Status.CONFIRMED.label}"
    assert expected in page and "待确认" not in page


def test_values_that_are_not_choices_read_plainly():
    """Booleans read yes/no (False showed as empty, like None), objects and lists as text, not Python's repr."""
    from fangkong.core.audit_labels import change_rows

    rows = change_rows("measures.measure", {"status": [{"from": "proposed"}, ["confirmed"]], "kind": [None, 3]})
    assert [r[1:] for r in rows] == [("from：proposed", "已确认"), (None, 3)]
    assert change_rows("no.such_model", {"status": ["a", "b"]}) == [("status", "a", "b")]
    rows = change_rows("people.person", {"unmasked": [None, False], "filters": [None, {"kind": "contractor", "q": ""}],
                                         "ids": [[1, 2], []]})
    assert [r[1:] for r in rows] == [(None, "否"), (None, "kind：contractor；q："), ("1、2", "[]")]
    with translation.override("en"):
        assert change_rows("people.person", {"unmasked": [True, False]})[0][1:] == ("Yes", "No")


def test_recorded_timestamps_read_in_local_time():
    from fangkong.core.audit_labels import change_rows

    rows = change_rows("people.person", {"symptomatic_since": [None, "2026-12-07T15:58:52.019674+00:00"]})
    assert rows[0][1:] == (None, "2026-12-07 23:58:52")  # Asia/Shanghai
    assert change_rows("people.person", {"symptomatic_since": ["garbled", None]})[0][1:] == ("garbled", None)


# A name recorded as the actor when no user acted: `actor="…"`, `actor or "…"`, `actor: Any = "…"` and system actors.
ACTOR_LITERAL = re.compile(r"""actor(?:=| or |: Any = )["']([^"']+)["']|SystemActor\(["']([^"']+)["']\)""")


def test_every_recorded_system_actor_has_a_name():
    from fangkong.core.audit_labels import ACTOR_LABELS

    found: set[str] = set()
    for path in SOURCES.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        found |= {a or b for a, b in ACTOR_LITERAL.findall(path.read_text(encoding="utf-8"))}
    assert {"system", "seed_demo", "system:positive-result"} <= found
    missing = sorted(found - set(ACTOR_LABELS))
    assert not missing, f"add names to ACTOR_LABELS in core/audit_labels.py: {missing}"


@pytest.mark.django_db
def test_the_log_names_system_actors_and_shows_users_as_recorded(client, world, django_user_model):
    audit_record(actor="system", action="measure.confirm", object_type="measures.measure", object_id="1",
                 object_repr="安安", organization_id=world.factory.pk)
    # A user who happens to be called like a system actor is still that user.
    namesake = django_user_model.objects.create_user("seed_demo", password="pw-namesake-1")
    audit_record(actor=namesake, action="person.update", object_type="people.person", object_id="2",
                 object_repr="乐乐", organization_id=world.factory.pk)
    client.force_login(world.admin)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    page = client.get("/audit/").content.decode()
    assert "System<div" in page and "<code>system</code>" in page  # the recorded name stays, for searching
    assert "Demo data" not in page and "<td>seed_demo</td>" in page
    with translation.override("en"):
        from fangkong.core.audit_labels import actor_label

        assert actor_label("访客自助预约") == "Visitor self-booking" and actor_label("张三") == "张三"
