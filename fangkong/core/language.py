"""A signed-in user's language: chosen in the header, kept on the account, brought back at sign-in.

The header's language menu used to set only the browser's cookie. Everything sent to the user later, when no page
is open (inbox notifications, e-mail, SMS, group-bot messages), is worded in `User.language` (notify.services), so
someone who switched to English still got every message in Chinese. The choice is now remembered on the account, and
a new sign-in (another phone, a cleared browser) starts in it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.utils.translation import check_for_language
from django.views import i18n


def language_remember(*, user: Any, code: str) -> bool:
    """Keep `code` as the user's language if it is one the site offers; True when it changed."""
    if code not in dict(settings.LANGUAGES) or not check_for_language(code) or user.language == code:
        return False
    user.language = code
    user.save(update_fields=["language"])  # save(): the auth cache's copy of the user is dropped by its signal
    return True


def set_language(request: HttpRequest) -> HttpResponse:
    """Django's set_language (the cookie, the redirect), and the account remembers the choice."""
    response = i18n.set_language(request)
    if request.method == "POST" and request.user.is_authenticated:
        language_remember(user=request.user, code=request.POST.get("language", ""))
    return response


class SignInView(auth_views.LoginView):
    """Sign-in that restores the language the user chose before (on this or another device)."""

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        code = form.get_user().language
        if code in dict(settings.LANGUAGES):
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, max_age=settings.LANGUAGE_COOKIE_AGE,
                                path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
                                secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                                samesite=settings.LANGUAGE_COOKIE_SAMESITE)
        return response
