import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = (
        "Create a staff superuser with a random password if the database has none, and say "
        "how to sign in. Does nothing when a superuser exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write(
                "Sign in with your superuser account "
                "(forgot the password? `.venv/bin/python manage.py changepassword admin`)."
            )
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Created the superuser {username!r} with password {password}\n"
                "Write it down: it is shown only this once "
                f"(change it with `.venv/bin/python manage.py changepassword {username}`)."
            )
        )
