"""passgate: a self-hosted proof-of-work CAPTCHA, wire-compatible with hCaptcha."""

__version__ = "0.1.0"
