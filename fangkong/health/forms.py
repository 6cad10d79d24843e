from __future__ import annotations

from typing import Any, cast

from django import forms
from django.utils.functional import lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from fangkong.health import rules
from fangkong.health.models import AbsenceFollowUp, CheckinSetting
from fangkong.people.models import Person


def _style(form: forms.BaseForm) -> None:
    """Tabler classes on the plain widgets (check boxes keep theirs)."""
    for field in form.fields.values():
        widget = field.widget
        if getattr(widget, "input_type", "") == "checkbox" or isinstance(widget, forms.HiddenInput):
            continue
        css = "form-select" if isinstance(widget, forms.Select) else "form-control"
        widget.attrs.setdefault("class", css)


def _symptom_label(code: str) -> str:
    return rules.symptom_labels([code], get_language() or "zh-hans")[0]


# Evaluated when rendered, in the request's language: the class-level choices below are built once at import.
_lazy_symptom_label = lazy(_symptom_label, str)


def symptom_choices(codes: list[str] | None = None) -> list[tuple[str, Any]]:
    return [(c, _lazy_symptom_label(c)) for c in (codes or rules.DEFAULT_SYMPTOMS) if c in rules.SYMPTOMS]


class CheckinForm(forms.Form):
    temperature = forms.CharField(label=_("体温（℃）"), required=False,
                                  widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "36.5"}))
    symptoms = forms.MultipleChoiceField(label=_("症状"), required=False, widget=forms.CheckboxSelectMultiple)
    region = forms.CharField(label=_("当前所在地（区划代码或名称）"), required=False, max_length=64)
    note = forms.CharField(label=_("备注"), required=False, max_length=200)
    client_key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, symptoms: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["symptoms"]).choices = symptom_choices(symptoms)


class AbsenceForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)

    person = forms.IntegerField(label=_("人员编号"), max_value=2**63 - 1)  # beyond: no stored id
    started_on = forms.DateField(label=_("缺勤开始"), widget=forms.DateInput(attrs={"type": "date"}))
    expected_until = forms.DateField(label=_("预计返回"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label=_("原因"), max_length=200)
    symptoms = forms.MultipleChoiceField(label=_("症状"), required=False, widget=forms.CheckboxSelectMultiple,
                                         choices=symptom_choices())


class FollowUpForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _style(self)

    date = forms.DateField(label=_("日期"), widget=forms.DateInput(attrs={"type": "date"}))
    status = forms.ChoiceField(label=_("情况"), choices=AbsenceFollowUp.Status.choices)
    note = forms.CharField(label=_("说明"), required=False, max_length=200)


class SettingForm(forms.ModelForm):
    person_kinds = forms.MultipleChoiceField(label=_("人员类别（不选表示全部）"), required=False,
                                             widget=forms.CheckboxSelectMultiple, choices=Person.Kind.choices)
    unit_ids = forms.TypedMultipleChoiceField(label=_("部门（不选表示全部，含下级）"), required=False, coerce=int,
                                              widget=forms.SelectMultiple(attrs={"class": "form-select", "size": 6}))
    symptoms = forms.MultipleChoiceField(label=_("症状清单"), required=False, widget=forms.CheckboxSelectMultiple,
                                         choices=symptom_choices())

    def __init__(self, *args: Any, units: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["unit_ids"]).choices = [
            (u.pk, "　" * max(u.depth, 0) + u.name) for u in units]
        _style(self)

    symptoms = forms.MultipleChoiceField(label=_("症状清单"), required=False, widget=forms.CheckboxSelectMultiple,
                                         choices=symptom_choices())

    class Meta:
        model = CheckinSetting
        fields = [
            "name", "is_active", "person_kinds", "unit_ids", "frequency", "deadline", "noon_deadline",
            "afternoon_deadline", "fever_threshold",
            "symptoms", "fever_instruction", "leader_reminder_delay", "cluster_threshold", "cluster_window_days",
            "integrity_same_days", "integrity_device_people",
        ]
        widgets = {
            "deadline": forms.TimeInput(attrs={"type": "time"}),
            "noon_deadline": forms.TimeInput(attrs={"type": "time"}),
            "afternoon_deadline": forms.TimeInput(attrs={"type": "time"}),
            "fever_instruction": forms.Textarea(attrs={"rows": 3}),
        }
