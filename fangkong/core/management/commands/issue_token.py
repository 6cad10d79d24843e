from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from fangkong.core.tokens import token_issue


class Command(BaseCommand):
    help = "Issue a new API token for a user and print it (it is shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        _token, raw = token_issue(user=user, name=name)
        self.stdout.write(raw)
