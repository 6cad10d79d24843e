from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from fangkong.core import crypto


class UsernameOrPhoneBackend(ModelBackend):
    """Sign in with a username or with the phone number on the account."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> Any:
        if not username or not password:
            return None
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        phone = "".join(username.split()).removeprefix("+86")
        if user is None and phone.isdigit():
            user = User.objects.filter(phone_hash=crypto.lookup_hash(phone)).first()
        if user is None:
            User().set_password(password)  # same work as a real check, so timing does not reveal accounts
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
