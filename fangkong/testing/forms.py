from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.people.models import Person
from fangkong.tenancy.forms import StyledForm as _Styled
from fangkong.testing.models import TestKind, TestProgram


class StyledForm(_Styled):
    """Checkboxes and radios keep Tabler's check class instead of the text-input one."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field.widget, (forms.RadioSelect, forms.CheckboxInput)):
                field.widget.attrs["class"] = "form-check-input"


class ProgramForm(StyledForm):
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("方式"), choices=TestProgram.Kind.choices)
    test_kind = forms.ChoiceField(label=_("检测类型"), choices=TestKind.choices)
    post_categories = forms.MultipleChoiceField(
        label=_("重点岗位类别"), required=False, choices=Person.PostCategory.choices,
        widget=forms.CheckboxSelectMultiple, help_text=_("每 N 天检测：这些岗位的人员"),
    )
    unit = forms.TypedChoiceField(label=_("部门"), required=False, coerce=int, empty_value=None,
                                  help_text=_("含下级部门；分批检测必填"))
    interval_days = forms.IntegerField(label=_("间隔天数"), min_value=1, initial=3)
    per_day = forms.IntegerField(label=_("每日人数（分批检测）"), min_value=1, initial=100)
    start_date = forms.DateField(label=_("开始日期"), widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    source_note = forms.CharField(label=_("依据"), max_length=200, required=False,
                                  help_text=_("例如：003 号文件，发热门诊、隔离酒店、进口冷链从业人员每 3 天一次核酸"))

    def __init__(self, *args, units=(), **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [("", "—")] + [(u.pk, u.name) for u in units]  # type: ignore[attr-defined]


class SampleForm(StyledForm):
    tube_code = forms.CharField(label=_("管码"), max_length=64,
                                widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}))
    kind = forms.ChoiceField(label=_("检测类型"), choices=TestKind.choices)
    pooled = forms.BooleanField(label=_("混采（多人一管）"), required=False, initial=True)
    members = forms.CharField(
        label=_("采样人员"), widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("每行一人：扫描或输入证件号码，或人员编号；混采默认最多 10 人"),
    )
    site = forms.CharField(label=_("采样点"), max_length=100, required=False)
    sampled_at = forms.DateTimeField(
        label=_("采样时间"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("补录纸质采样登记时填写；留空为现在"))


RESULT_LABELS = {"negative": _("阴性"), "positive": _("阳性"), "invalid": _("无效")}


class ResultForm(StyledForm):
    tube_code = forms.CharField(label=_("管码"), max_length=64,
                                widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off"}))
    result = forms.ChoiceField(label=_("结果"), choices=list(RESULT_LABELS.items()))
    reported_at = forms.DateTimeField(label=_("报告时间"), required=False,
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    lab = forms.CharField(label=_("检测机构"), max_length=100, required=False)


class ImportForm(StyledForm):
    file = forms.FileField(label=_("文件（.xlsx 或 .csv）"))
    mode = forms.ChoiceField(label=_("有问题的行"), choices=[
        ("all", _("全部正确才导入（有任何问题则不导入）")), ("valid", _("只导入正确的行，跳过有问题的行")),
    ], initial="all", widget=forms.RadioSelect)


class VaccinationForm(StyledForm):
    dose_number = forms.IntegerField(label=_("剂次"), min_value=1)
    product = forms.CharField(label=_("疫苗名称"), max_length=100, initial="新冠病毒灭活疫苗（Vero细胞）")
    manufacturer = forms.CharField(label=_("生产企业"), max_length=100, required=False)
    vaccinated_on = forms.DateField(label=_("接种日期"), widget=forms.DateInput(attrs={"type": "date"}))
    site = forms.CharField(label=_("接种单位"), max_length=100, required=False)


class ContraindicationForm(StyledForm):
    reason = forms.CharField(label=_("禁忌原因"), max_length=200)
    until = forms.DateField(label=_("有效期至"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
