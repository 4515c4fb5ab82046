"""The fields of a token request, read from the universal body or a job's `data`, checked
and normalized into a `TokenRequest`. Pure: every problem raises Refusal(BAD_INPUT)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from passgate import addresses, token
from passgate.sites import SiteError, normalize_hostname
from passgate.tokenapi.outcomes import BAD_INPUT, Refusal

MAX_SITEKEY = 64
MAX_URL = 2048
MAX_RQDATA = 4096
MAX_DOMAIN = 253
MAX_REGION = 64
MAX_PROXY = 512
MAX_DEVELOPER_ID = 200
MAX_ACTION = 100  # token.ANY_ACTION's limit
PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")


@dataclass(frozen=True)
class TokenRequest:
    sitekey: str
    referer: str
    rqdata: str | None = None
    domain: str | None = None
    proxy_ip: str | None = None  # the address in `proxy`; its credentials are never kept
    region: str | None = None
    invisible: bool = False
    need_ekey: bool = False
    action: str | None = None  # bound into the token (reCAPTCHA v3's or Turnstile's action)
    cdata: str | None = None  # bound into the token verbatim (Turnstile's cData)

    @property
    def referer_host(self) -> str | None:
        """The referer's host, or None when the referer is not an http(s) URL."""
        return url_host(self.referer)


def universal(body: Mapping[str, Any]) -> TokenRequest:
    """The universal call's body; keys not in the contract are ignored."""
    return _request(body, sitekey_field="sitekey", referer_field="referer")


def job(data: Mapping[str, Any]) -> TokenRequest:
    """A createJob `data` object: `website_key` and `website_url`, plus the universal options."""
    return _request(data, sitekey_field="website_key", referer_field="website_url")


def _request(body: Mapping[str, Any], sitekey_field: str, referer_field: str) -> TokenRequest:
    sitekey = _string(body, sitekey_field, MAX_SITEKEY, required=True)
    referer = _string(body, referer_field, MAX_URL, required=True)
    proxy = _string(body, "proxy", MAX_PROXY)
    assert sitekey is not None and referer is not None
    return TokenRequest(
        sitekey=sitekey,
        referer=referer,
        rqdata=_string(body, "rqdata", MAX_RQDATA, verbatim=True),
        domain=_string(body, "domain", MAX_DOMAIN),
        proxy_ip=proxy_ip(proxy) if proxy else None,
        region=_string(body, "region", MAX_REGION),
        invisible=_flag(body, "invisible"),
        need_ekey=_flag(body, "need_ekey"),
        action=_action(body),
        cdata=_cdata(body),
    )


def _action(body: Mapping[str, Any]) -> str | None:
    """The action bound into the token: reCAPTCHA v3's kind (`signup/submit`) or
    Turnstile's (`login-form`), 1 to 100 of `A-Z a-z 0-9 / _ -`, bound exactly as sent."""
    value = _string(body, "action", MAX_ACTION, verbatim=True)
    if value is not None and not token.ANY_ACTION.fullmatch(value):
        raise Refusal(
            BAD_INPUT,
            f"action must be 1 to {MAX_ACTION} of the letters A-Z and a-z, digits, / _ and -",
        )
    return value


def _cdata(body: Mapping[str, Any]) -> str | None:
    """Turnstile's cData, bound exactly as sent, by the widget's rule (token.CDATA: at most
    MAX_CDATA of A-Z a-z 0-9 _ - =), so that a token carrying it stays within 2048
    characters."""
    value = _string(body, "cdata", token.MAX_CDATA, verbatim=True)
    if value is not None and not token.CDATA.fullmatch(value):
        raise Refusal(BAD_INPUT, f"cdata must be at most {token.MAX_CDATA} of A-Z a-z 0-9 _ - =")
    return value


def _string(
    body: Mapping[str, Any], name: str, limit: int, required: bool = False, verbatim: bool = False
) -> str | None:
    """A string field, trimmed unless `verbatim` (opaque values such as rqdata are bound
    exactly as sent); None when absent or empty."""
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise Refusal(BAD_INPUT, f"{name} is required")
        return None
    if not isinstance(value, str):
        raise Refusal(BAD_INPUT, f"{name} must be a string")
    if not _unicode(value):  # a lone surrogate (JSON `"\ud800"`) no store can hold
        raise Refusal(BAD_INPUT, f"{name} must be valid Unicode text")
    if not verbatim:
        value = value.strip()
    if len(value) > limit:
        raise Refusal(BAD_INPUT, f"{name} is longer than {limit} characters")
    if required and not value:
        raise Refusal(BAD_INPUT, f"{name} is required")
    return value or None


def _unicode(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _flag(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if type(value) is int and value in (0, 1):
        return bool(value)
    raise Refusal(BAD_INPUT, f"{name} must be true or false")


def url_host(url: str) -> str | None:
    """The host of an http(s) URL, normalized; a URL without a scheme is taken as https."""
    text = url if "://" in url else "https://" + url
    try:
        parts = urlsplit(text)
        host = parts.hostname
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    try:
        return normalize_hostname(host)
    except SiteError:
        return None


def proxy_ip(text: str) -> str:
    """The IP address in `ip:port`, `user:pwd@ip:port` or `scheme://[user:pwd@]ip:port`.

    The address must be an IP literal: passgate resolves no names (it makes no outbound
    request), and a token can only be bound to an address.
    """
    bad = Refusal(BAD_INPUT, "proxy must be ip:port, user:pwd@ip:port or scheme://ip:port")
    if any(c.isspace() for c in text):
        raise bad
    rest = text
    if "://" in rest:
        scheme, rest = rest.split("://", 1)
        if scheme.lower() not in PROXY_SCHEMES:
            raise Refusal(BAD_INPUT, f"proxy scheme must be one of {', '.join(PROXY_SCHEMES)}")
    hostport = rest.rsplit("@", 1)[-1].rstrip("/")
    if hostport.startswith("["):
        host, sep, port = hostport[1:].partition("]:")
    else:
        host, sep, port = hostport.rpartition(":")
    ascii_port = port.isascii() and port.isdigit() and len(port) <= 5  # not `²`, not `١`
    if not sep or not ascii_port or not 1 <= int(port) <= 65535:
        raise bad
    address = addresses.canonical(host)
    if address is None:
        raise Refusal(BAD_INPUT, "proxy must name an IP address, not a host name")
    return address


def developer_id(header: str | None) -> str | None:
    """The `Developer-Id` header, kept on the record as attribution."""
    if header is None or not header.strip():
        return None
    if len(header) > MAX_DEVELOPER_ID:
        raise Refusal(BAD_INPUT, f"Developer-Id is longer than {MAX_DEVELOPER_ID} characters")
    return header.strip()
