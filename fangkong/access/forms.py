from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.access.models import HEALTH_CODES, AccessSetting, Venue
from fangkong.access.selectors import ID_MAX

_CODE_CHOICES = [("", _("未查验")), *HEALTH_CODES]


class StyledForm(forms.Form):
    """Tabler classes on every widget, so templates render fields without per-field markup."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            css = {"checkbox": "form-check-input", "select": "form-select"}.get(
                getattr(widget, "input_type", ""), "form-control")
            widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()


class VenueForm(StyledForm):
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=Venue.Kind.choices)
    capacity = forms.IntegerField(label=_("容量（人）"), required=False, min_value=1)
    max_stay_minutes = forms.IntegerField(label=_("最长停留（分钟）"), initial=720, min_value=5)
    fever_threshold = forms.DecimalField(label=_("发热阈值（℃）"), required=False, max_digits=3, decimal_places=1,
                                         help_text=_("留空则沿用本单位的发热阈值"))
    active = forms.BooleanField(label=_("启用"), required=False, initial=True)


class GateScanForm(StyledForm):
    venue = forms.IntegerField(label=_("场所"), max_value=ID_MAX)
    code = forms.CharField(label=_("通行码"), required=False, max_length=400)
    person = forms.IntegerField(label=_("人员"), required=False, max_value=ID_MAX)
    direction = forms.ChoiceField(label=_("方向"), choices=[("entry", _("进入")), ("exit", _("离开"))],
                                  initial="entry", required=False)
    temperature = forms.DecimalField(label=_("体温（℃）"), required=False, max_digits=3, decimal_places=1)
    health_code = forms.ChoiceField(label=_("健康码"), choices=_CODE_CHOICES, required=False)


class VisitorIdentityForm(StyledForm):
    name = forms.CharField(label=_("姓名"), max_length=64)
    id_number = forms.CharField(label=_("身份证号"), max_length=18)
    phone = forms.CharField(label=_("手机号"), max_length=20)


class WalkInForm(VisitorIdentityForm):
    venue = forms.IntegerField(label=_("场所"), max_value=ID_MAX)
    host = forms.IntegerField(label=_("被访人"), required=False, widget=forms.HiddenInput, max_value=ID_MAX)
    company = forms.CharField(label=_("来访单位"), max_length=100, required=False)
    purpose = forms.CharField(label=_("来访事由"), max_length=200)
    temperature = forms.DecimalField(label=_("体温（℃）"), required=False, max_digits=3, decimal_places=1)
    health_code = forms.ChoiceField(label=_("健康码"), choices=_CODE_CHOICES, required=False)


class BookingForm(VisitorIdentityForm):
    company = forms.CharField(label=_("来访单位"), max_length=100, required=False)
    host_name = forms.CharField(label=_("被访人（姓名或拼音首字母）"), max_length=64, widget=forms.TextInput(
        attrs={"autocomplete": "off", "placeholder": _("如：王主任 或 wzr")}))
    host_unit = forms.CharField(label=_("被访人部门（选填）"), max_length=32, required=False)
    host = forms.CharField(required=False, widget=forms.HiddenInput, max_length=200)
    purpose = forms.CharField(label=_("来访事由"), max_length=200)
    starts_at = forms.DateTimeField(label=_("预约开始"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    ends_at = forms.DateTimeField(label=_("预约结束"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    places_14d = forms.CharField(label=_("近14天到过的地方"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    health_code = forms.ChoiceField(label=_("健康码颜色"), choices=HEALTH_CODES)


class VehicleForm(StyledForm):
    plate = forms.CharField(label=_("车牌号"), max_length=12)
    driver = forms.IntegerField(label=_("驾驶员"), widget=forms.HiddenInput, required=False, max_value=ID_MAX)
    driver_name = forms.CharField(label=_("驾驶员姓名"), max_length=64, required=False)
    driver_id_number = forms.CharField(label=_("驾驶员身份证号"), max_length=18, required=False)
    driver_phone = forms.CharField(label=_("驾驶员手机号"), max_length=20, required=False)
    origin = forms.CharField(label=_("出发地"), max_length=100, required=False)
    destination = forms.CharField(label=_("目的地"), max_length=100, required=False)
    cargo = forms.CharField(label=_("货物"), max_length=100, required=False)
    disinfected = forms.BooleanField(label=_("已喷洒消毒"), required=False)
    disinfected_by = forms.CharField(label=_("消毒人"), max_length=64, required=False)
    disinfectant = forms.CharField(label=_("消毒剂"), max_length=64, required=False, initial="含氯消毒液")


class SettingForm(StyledForm):
    fever_threshold = forms.DecimalField(label=_("发热阈值（℃）"), max_digits=3, decimal_places=1, required=False,
                                         help_text=_("留空则沿用健康打卡设置中的发热阈值"))
    refuse_unknown = forms.BooleanField(label=_("拒绝未登记人员和无有效预约的访客"), required=False, initial=True)
    health_code_provider = forms.ChoiceField(
        label=_("健康码来源"), choices=AccessSetting.Provider.choices, initial=AccessSetting.Provider.MANUAL,
        required=False,  # not sent: left as it is
        help_text=_("选择健康码接口后，门岗识别人员时自动带出接口返回的颜色，门岗可以改选；接口查不到或故障时由门岗人工录入"))
