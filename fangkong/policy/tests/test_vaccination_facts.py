"""The engine knows who is vaccinated (testing's records): a vaccinated fever-clinic worker is not told to get
vaccinated, an unvaccinated one is; the same through the bulk path of re-evaluations."""

from __future__ import annotations

from datetime import date

import pytest

from fangkong.people.models import Person
from fangkong.policy import selectors
from fangkong.policy.models import Policy, Rule
from fangkong.policy.services import policy_activation_set
from fangkong.testing import services as testing

pytestmark = pytest.mark.django_db
D = date(2021, 9, 20)


@pytest.fixture
def vaccination_rule(world):
    policy = Policy.objects.create(title="测试政策", number="第八条", issuer="长治市疫情防控办", jurisdiction=world.city,
                                   effective_from=date(2021, 9, 1))
    Rule.objects.create(policy=policy, key="fever_vax", clause="第八条",
                        condition={"all": [{"post_category": {"in": ["fever_clinic"]}}, {"not_vaccinated": {}}]},
                        measure={"kind": "vaccination_required", "days": 1, "counted_from": "evaluation"},
                        precedence=10)
    policy_activation_set(jurisdiction=world.city, policy=policy, enabled=True, actor=world.admin)
    return policy


def test_vaccination_records_reach_the_engine(world, make_person, vaccination_rule):
    done, none = make_person(name="已接种"), make_person(name="未接种")
    Person.objects.filter(pk__in=[done.pk, none.pk]).update(post_category="fever_clinic")
    for dose in range(1, testing.complete_doses() + 1):
        testing.vaccination_record(person=done, dose_number=dose, product="新冠灭活疫苗（Vero细胞）",
                                   vaccinated_on=date(2021, 5, dose * 2), actor=world.alice)
    done.refresh_from_db()
    none.refresh_from_db()
    assert selectors.person_flags(done).vaccinated is True
    assert selectors.person_flags(none).vaccinated is False
    kinds = {p.name: [d.measure_kind for d in selectors.evaluate_person(person=p, on=D)[0]] for p in (done, none)}
    assert kinds == {"已接种": [], "未接种": ["vaccination_required"]}
    facts, _ = selectors.bulk_facts([done.pk, none.pk], D)
    assert facts[done.pk].flags.vaccinated is True and facts[none.pk].flags.vaccinated is False
