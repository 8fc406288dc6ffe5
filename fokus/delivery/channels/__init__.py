"""The channels a delivery goes out on: Telegram (telegram.py) and e-mail (email.py)."""
