"""The dashboard at ``/dashboard``: server-rendered pages (Jinja2, htmx served by Tidings
itself) where partners manage what the API manages. Every write goes through services/."""
