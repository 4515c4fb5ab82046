"""The widget: its JavaScript and iframe as source (static/), the routes that serve them
(assets.py) and the challenge/solve endpoints the iframe calls (endpoints.py)."""
