from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from fangkong.core.tokens import token_issue
from fangkong.geo.models import Region, validate_region_code
from fangkong.geo.selectors import region_by_name, region_get

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]


def test_levels_and_parents_loaded():
    county = region_get("140428")
    assert county is not None and county.name == "长子县" and county.level == "county"
    assert county.full_name == "山西省长治市长子县"
    assert county.parent_id == "1404" and county.parent.parent_id == "14"
    assert county.city_prefix == "1404"
    assert county.ancestor_codes() == ["14", "1404"]


@pytest.mark.parametrize("name", ["长治市长子县", "山西省长治市长子县", "长子县"])
def test_lookup_by_name(name):
    assert region_by_name(name).code == "140428"


def test_ambiguous_short_name_is_not_guessed():
    # 朝阳区 exists in 北京 and 长春: a bare name must not pick one silently.
    assert region_by_name("朝阳区") is None
    assert region_by_name("北京市朝阳区").code == "110105"


def test_descendants_by_prefix():
    codes = set(Region.objects.descendants_of("1404").values_list("code", flat=True))
    assert {"1404", "140428", "140403"} <= codes
    assert all(c.startswith("1404") for c in codes)
    assert "1404" not in set(Region.objects.descendants_of("1404", include_self=False).values_list("code", flat=True))


def test_unknown_code_is_a_clear_error():
    with pytest.raises(ValidationError, match="未知的行政区划代码：999999"):
        validate_region_code("999999")


def test_regions_api_search(client, world):
    _t, raw = token_issue(user=world.bob, name="t")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    by_name = client.get("/api/v1/regions", {"q": "长子"}, **auth).json()
    assert any(r["code"] == "140428" and r["parent_code"] == "1404" for r in by_name)
    by_code = client.get("/api/v1/regions", {"q": "1404"}, **auth).json()
    assert by_code and all(r["code"].startswith("1404") for r in by_code)
    assert json.loads(client.get("/api/v1/regions").content)["message"]  # anonymous: 401 with the error shape
