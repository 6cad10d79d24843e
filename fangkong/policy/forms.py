"""Forms of the policy pages. They only parse input; the services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.people.models import Person
from fangkong.policy.models import RiskArea
from fangkong.tenancy.forms import StyledForm

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class AnnounceForm(StyledForm):
    region_code = forms.CharField(label=_("区划代码"), max_length=12,
                                  help_text=_("国家行政区划代码，如 130109（石家庄市藁城区）"))
    locality = forms.CharField(label=_("具体地点"), max_length=200, required=False,
                               help_text=_("街道、社区或小区；留空表示整个区划"))
    level = forms.ChoiceField(label=_("风险等级"), choices=RiskArea.Level.choices)
    effective_from = forms.DateField(label=_("生效日期"), widget=DATE)
    effective_until = forms.DateField(label=_("截止日期"), widget=DATE, required=False)
    source = forms.CharField(label=_("来源（文号或网址）"), max_length=300, required=False)


class ChangeLevelForm(StyledForm):
    level = forms.ChoiceField(label=_("新的风险等级"), choices=RiskArea.Level.choices)
    effective_from = forms.DateField(label=_("自何日起"), widget=DATE)
    source = forms.CharField(label=_("来源（文号或网址）"), max_length=300, required=False)


class EndForm(StyledForm):
    ended_on = forms.DateField(label=_("解除日期"), widget=DATE)
    source = forms.CharField(label=_("来源（文号或网址）"), max_length=300, required=False)


class ImportForm(StyledForm):
    file = forms.FileField(label=_("文件（.xlsx 或 .json）"),
                           help_text=_("列：区划代码、具体地点、风险等级（高/中/低）、生效日期、截止日期、来源"))


class StayForm(StyledForm):
    region_code = forms.CharField(label=_("区划代码"), max_length=12,
                                  widget=forms.TextInput(attrs={"placeholder": _("区划代码，如 130109")}))
    locality = forms.CharField(label=_("具体地点"), max_length=200, required=False,
                               widget=forms.TextInput(attrs={"placeholder": _("具体地点（可空）")}))
    from_date = forms.DateField(label=_("开始日期"), widget=DATE)
    to_date = forms.DateField(label=_("结束日期"), widget=DATE)


StayFormSet = forms.formset_factory(StayForm, extra=3, max_num=20)


def stays_of(formset: forms.BaseFormSet) -> list[dict[str, Any]]:
    """The filled rows of a valid StayFormSet (the empty extra rows are skipped)."""
    return [f.cleaned_data for f in formset.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]


class ArrivalForm(StyledForm):
    arrived_on = forms.DateField(label=_("抵达日期"), widget=DATE)


class WhatIfForm(StyledForm):
    evaluation_date = forms.DateField(label=_("判定日期"), widget=DATE)
    arrived_on = forms.DateField(label=_("抵达日期"), widget=DATE, required=False)
    no_home_conditions = forms.BooleanField(label=_("不具备居家隔离条件"), required=False)
    post_category = forms.ChoiceField(label=_("重点岗位类别"), required=False,
                                      choices=[("", "—"), *Person.PostCategory.choices])
    past_case = forms.BooleanField(label=_("既往病例"), required=False)
    discharged_on = forms.DateField(label=_("出院日期"), widget=DATE, required=False)
    arrived_from_abroad_released = forms.BooleanField(label=_("入境解除集中隔离"), required=False)
    contact_degree = forms.ChoiceField(label=_("密接/次密接"), required=False,
                                       choices=[("", "—"), ("1", _("密切接触者")), ("2", _("次密切接触者"))])
    last_exposure_on = forms.DateField(label=_("末次暴露日期"), widget=DATE, required=False)
    temperature = forms.DecimalField(label=_("体温（℃）"), max_digits=4, decimal_places=1, required=False)
    health_code = forms.ChoiceField(label=_("健康码"), required=False,
                                    choices=[("", "—"), ("green", _("绿码")), ("yellow", _("黄码")), ("red", _("红码"))])
    case_status = forms.ChoiceField(label=_("病例状态"), required=False, choices=[
        ("", "—"), ("confirmed", _("确诊病例")), ("asymptomatic", _("无症状感染者")), ("suspected", _("疑似病例")),
        ("recovered", _("已治愈病例"))])
    diagnosed_on = forms.DateField(label=_("确诊日期"), widget=DATE, required=False)
    vaccinated = forms.ChoiceField(label=_("已接种新冠疫苗"), required=False,
                                   choices=[("", _("未知")), ("yes", _("是")), ("no", _("否"))])
    leaving_city = forms.BooleanField(label=_("需离开本市"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("no_home_conditions", "past_case", "arrived_from_abroad_released", "leaving_city"):
            self.fields[name].widget.attrs["class"] = "form-check-input"

    def flags(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "no_home_conditions": d["no_home_conditions"], "post_category": d["post_category"] or None,
            "past_case": d["past_case"], "discharged_on": d["discharged_on"],
            "arrived_from_abroad_released": d["arrived_from_abroad_released"],
            "contact_degree": int(d["contact_degree"]) if d["contact_degree"] else None,
            "last_exposure_on": d["last_exposure_on"],
            "temperature": float(d["temperature"]) if d["temperature"] is not None else None,
            "health_code": d["health_code"] or None, "case_status": d["case_status"] or None,
            "diagnosed_on": d["diagnosed_on"], "vaccinated": {"yes": True, "no": False}.get(d["vaccinated"]),
            "leaving_city": d["leaving_city"],
        }


class TravelForm(StyledForm):
    destination_code = forms.CharField(label=_("目的地区划代码"), max_length=12)
    locality = forms.CharField(label=_("具体地点"), max_length=200, required=False)
    from_date = forms.DateField(label=_("出发日期"), widget=DATE)
    to_date = forms.DateField(label=_("返回日期"), widget=DATE)
    companions = forms.CharField(label=_("同行人员"), max_length=200, required=False)
    purpose = forms.CharField(label=_("事由"), max_length=300)


class DecideForm(StyledForm):
    reason = forms.CharField(label=_("审批意见"), max_length=300, required=False)


class ReturnForm(StyledForm):
    returned_on = forms.DateField(label=_("返回日期"), widget=DATE)
