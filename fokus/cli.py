"""The `fokus` console script: Django's management commands under one name.

`fokus people import ...`, `fokus migrate`, `fokus demo`: every sub-command is a
management command, so the CLI and `manage.py` can never drift apart.
"""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fokus.config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["fokus", *sys.argv[1:]])


if __name__ == "__main__":
    main()
