"""The staff console: server-rendered pages (Jinja2) and the JSON API over ``bot.cases``."""
