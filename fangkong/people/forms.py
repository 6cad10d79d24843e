"""Forms of the ledger pages. They only parse input; the services validate and write, so a form shows the same
messages the API returns."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.people.models import Person
from fangkong.tenancy.forms import StyledForm
from fangkong.tenancy.models import Unit

MAX_UPLOAD = 20 * 1024 * 1024


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Unit) -> str:
        # Indent by depth so the select reads as the unit tree.
        return "　" * max(obj.depth, 0) + obj.name


class PersonForm(StyledForm):
    name = forms.CharField(label=_("姓名"), max_length=64)
    id_type = forms.ChoiceField(label=_("证件类型"), choices=Person.IdType.choices, initial=Person.IdType.RESIDENT_ID)
    id_number = forms.CharField(label=_("证件号码"), max_length=32)
    gender = forms.ChoiceField(label=_("性别"), choices=Person.Gender.choices, initial=Person.Gender.UNKNOWN,
                               help_text=_("居民身份证可留“未知”，按证件号自动判断"))
    phone = forms.CharField(label=_("手机号"), max_length=20, required=False)
    kind = forms.ChoiceField(label=_("人员类别"), choices=Person.Kind.choices, initial=Person.Kind.EMPLOYEE)
    unit = UnitChoiceField(label=_("部门/班组"), queryset=Unit.objects.none(), required=False,
                           empty_label=_("（不属于任何部门）"))
    residence_region = forms.CharField(label=_("居住地区划"), max_length=64, required=False,
                                       help_text=_("区划代码或名称，如 140428 或 山西省长治市长子县"))
    address = forms.CharField(label=_("居住地址"), max_length=200, required=False)
    dormitory = forms.CharField(label=_("宿舍"), max_length=64, required=False)
    post_category = forms.ChoiceField(label=_("重点岗位类别"), required=False,
                                      choices=[("", _("（非重点岗位）")), *Person.PostCategory.choices])
    no_home_conditions = forms.BooleanField(label=_("不具备居家隔离条件"), required=False)
    past_case = forms.BooleanField(label=_("既往病例"), required=False)
    discharged_on = forms.DateField(label=_("出院日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    arrived_from_abroad_released = forms.BooleanField(label=_("入境解除集中隔离"), required=False)

    def __init__(self, *args: Any, units: Any, person: Person | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = units  # type: ignore[attr-defined]
        if person is not None:
            # The edit form never shows the numbers in clear (that is unmasking, which is audited on its own):
            # left empty they stay as they are.
            for name, masked in (("id_number", person.id_number_masked), ("phone", person.phone_masked)):
                self.fields[name].required = False
                self.fields[name].widget.attrs["placeholder"] = masked
                self.fields[name].help_text = _("留空则不修改")
        for name in ("no_home_conditions", "past_case", "arrived_from_abroad_released"):
            self.fields[name].widget.attrs["class"] = "form-check-input"

    def clean_residence_region(self) -> Any:
        from fangkong.geo.selectors import region_by_name, region_get

        text = "".join(self.cleaned_data["residence_region"].split())
        if not text:
            return None
        region = region_get(text) if text.isdigit() else region_by_name(text)
        if region is None:
            raise forms.ValidationError(_("未知的行政区划“%(text)s”：请填写代码或完整名称"), params={"text": text})
        return region

    def service_values(self, *, editing: bool = False) -> dict[str, Any]:
        d = dict(self.cleaned_data)
        d["post_category"] = d.get("post_category") or None
        if editing:
            for name in ("id_number", "phone"):
                if not d.get(name):
                    d.pop(name, None)
        return d


def person_initial(person: Person) -> dict[str, Any]:
    return {
        "name": person.name, "id_type": person.id_type, "gender": person.gender, "kind": person.kind, "unit": person.unit_id,
        "residence_region": person.residence_region_id or "", "address": person.address,
        "dormitory": person.dormitory, "post_category": person.post_category or "",
        "no_home_conditions": person.no_home_conditions, "past_case": person.past_case,
        "discharged_on": person.discharged_on, "arrived_from_abroad_released": person.arrived_from_abroad_released,
    }


class ImportUploadForm(StyledForm):
    file = forms.FileField(label=_("Excel 文件（.xlsx）"), widget=forms.ClearableFileInput(
        attrs={"accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "id": "import-file"}))

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(".xlsx"):
            raise forms.ValidationError(_("请上传 .xlsx 格式的 Excel 文件（可先下载导入模板）"))
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError(_("文件超过 20 MB，请拆分后分批导入"))
        return upload
