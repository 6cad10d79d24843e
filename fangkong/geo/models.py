from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class RegionQuerySet(models.QuerySet["Region"]):
    def descendants_of(self, code: str, include_self: bool = True) -> RegionQuerySet:
        # GB/T 2260 codes nest by prefix: 14 ⊃ 1404 ⊃ 140428.
        qs = self.filter(code__startswith=code)
        return qs if include_self else qs.exclude(code=code)

    def search(self, q: str) -> RegionQuerySet:
        q = q.strip()
        if not q:
            return self
        if q.isdigit():
            return self.filter(code__startswith=q)
        return self.filter(models.Q(full_name__contains=q) | models.Q(name__contains=q))


class Region(models.Model):
    """An administrative division by its GB/T 2260 code: province 2 digits, city 4, county 6."""

    class Level(models.TextChoices):
        PROVINCE = "province", _("省级")
        CITY = "city", _("地级")
        COUNTY = "county", _("县级")
        TOWNSHIP = "township", _("乡级")
        VILLAGE = "village", _("村级")

    code = models.CharField(_("区划代码"), max_length=12, primary_key=True)
    name = models.CharField(_("名称"), max_length=64)
    full_name = models.CharField(_("全称"), max_length=128, db_index=True)
    level = models.CharField(_("级别"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")

    objects = RegionQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = _("行政区划")
        verbose_name_plural = _("行政区划")

    def __str__(self) -> str:
        return self.full_name

    @property
    def city_prefix(self) -> str:
        """The prefecture-level city the region belongs to (first four digits), as the seed 003 rules use it."""
        return self.code[:4]

    def ancestor_codes(self) -> list[str]:
        return [self.code[:n] for n in (2, 4, 6, 9) if n < len(self.code)]


def validate_region_code(code: str) -> None:
    if not Region.objects.filter(code=code).exists():
        raise ValidationError(_("未知的行政区划代码：%(code)s"), params={"code": code}, code="unknown_region")
