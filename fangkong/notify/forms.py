from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from fangkong.notify.models import Level, WebhookEndpoint
from fangkong.tenancy.models import Organization


class StyledForm(forms.Form):
    """Tabler classes on every widget, so the templates render fields without per-field markup."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, (forms.CheckboxInput, forms.CheckboxSelectMultiple)):
                widget.attrs["class"] = "form-check-input"
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()

    def add_service_error(self, exc: Any) -> None:
        """Show a ServiceError on the fields it names, or above the form."""
        placed = False
        for name, messages in exc.field_errors.items():
            if name in self.fields:
                for message in messages:
                    self.add_error(name, message)
                placed = True
        if not placed:
            self.add_error(None, exc.message)


class PreferenceForm(StyledForm):
    email = forms.BooleanField(label=_("通过电子邮件接收"), required=False)
    sms = forms.BooleanField(label=_("通过短信接收"), required=False)
    quiet_start = forms.TimeField(
        label=_("免打扰开始"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_end = forms.TimeField(
        label=_("免打扰结束"), required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=_("免打扰时段内，除警报外的邮件和短信推迟到时段结束后发送；站内通知不受影响。"),
    )


class WebhookForm(StyledForm):
    organization: forms.ModelChoiceField = forms.ModelChoiceField(
        label=_("单位"), queryset=Organization.objects.none(),  # narrowed to the user's organisations in __init__
    )
    name = forms.CharField(label=_("名称"), max_length=100,
                           widget=forms.TextInput(attrs={"placeholder": _("如：防疫办工作群")}))
    kind = forms.ChoiceField(label=_("类型"), choices=WebhookEndpoint.Kind.choices)
    url = forms.CharField(
        label=_("地址"), max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"}),
    )
    secret = forms.CharField(
        label=_("加签密钥"), required=False, widget=forms.PasswordInput(render_value=False),
        help_text=_("仅钉钉机器人“加签”安全设置需要，以 SEC 开头。"),
    )
    levels = forms.MultipleChoiceField(
        label=_("转发级别"), choices=Level.choices, widget=forms.CheckboxSelectMultiple,
        initial=[Level.WARNING, Level.ALERT],
    )

    def __init__(self, *args: Any, organizations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations  # type: ignore[attr-defined]


class WebhookEditForm(StyledForm):
    name = forms.CharField(label=_("名称"), max_length=100)
    kind = forms.ChoiceField(label=_("类型"), choices=WebhookEndpoint.Kind.choices)
    url = forms.CharField(label=_("新地址"), max_length=1000, required=False,
                          help_text=_("留空则保留原地址。"))
    secret = forms.CharField(label=_("新加签密钥"), required=False, widget=forms.PasswordInput(render_value=False),
                             help_text=_("留空则保留原密钥。"))
    clear_secret = forms.BooleanField(label=_("清除加签密钥"), required=False)
    levels = forms.MultipleChoiceField(label=_("转发级别"), choices=Level.choices, widget=forms.CheckboxSelectMultiple)
    is_active = forms.BooleanField(label=_("启用"), required=False)
