"""Rendering the leadership report: HTML (Jinja2, autoescaped), plain text and PNG charts."""
