"""Pass tokens (`P1_...`) and response keys (`E0_...`): mint, encode, parse. Pure: no I/O.

A token is `P1_` + base64url(JSON claims) + `.` + base64url(HMAC-SHA256). The claims name
the signing key id, so keys can rotate while older tokens still verify.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from typing import NamedTuple

from passgate.signing import KeyRing, b64decode, b64encode, sign, verify

HCAPTCHA, TURNSTILE, RECAPTCHA = "hcaptcha", "turnstile", "recaptcha"
INTERFACES = (HCAPTCHA, TURNSTILE, RECAPTCHA)
MAX_CDATA = 255  # characters (Turnstile's limit on cData)
_ACTION = {  # what each interface lets a page bind as its action
    TURNSTILE: re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII),  # Turnstile's documented rule
    RECAPTCHA: re.compile(r"[A-Za-z0-9/_]{1,100}", re.ASCII),  # reCAPTCHA v3's
}
ANY_ACTION = re.compile(r"[A-Za-z0-9/_-]{1,100}", re.ASCII)  # the token API's: either kind
CDATA = re.compile(r"[A-Za-z0-9_=-]{1,255}", re.ASCII)  # Turnstile's rule (and `=`, as its
# script lets through): docs/turnstile.md §2; it keeps a token within 2048 characters


class BindingError(ValueError):
    """An action or cData a page or a caller cannot bind (its message says why)."""


def check_bindings(interface: str, action: str, cdata: str) -> None:
    """Refuse an action or cData the interface does not allow; "" binds nothing.
    Raises BindingError."""
    if interface not in INTERFACES:
        raise BindingError(f"interface must be one of {', '.join(INTERFACES)}")
    if action:
        rule = _ACTION.get(interface)
        if rule is None or not rule.fullmatch(action):
            allowed = "no action" if rule is None else f"an action matching {rule.pattern}"
            raise BindingError(f"{interface} takes {allowed}")
    if cdata and (interface != TURNSTILE or not CDATA.fullmatch(cdata)):
        raise BindingError(f"cdata is Turnstile's: at most {MAX_CDATA} of A-Z a-z 0-9 _ - =")


PREFIX = "P1_"
MAX_ENCODED = 4096


class TokenError(ValueError):
    """A token that is malformed, forged or altered."""


class UnknownKey(TokenError):
    """A token signed under a key id the ring lacks: forged, or signed by a key rotated in
    on another node since this ring was loaded (`kid` says which)."""

    def __init__(self, kid: str) -> None:
        super().__init__("unknown signing key")
        self.kid = kid


class PassToken(NamedTuple):  # a tuple: built on every siteverify, twice as fast as a dataclass
    jti: str  # 32 hex chars, unique per token
    sitekey: str
    hostname: str
    issued_ms: int
    lifetime: int  # seconds
    rqdata_sha256: str | None = None
    bound_ip: str | None = None
    source: str = "pow"  # "pow", or "key:NAME" for tokens minted by the token API
    mode: str = ""  # "invisible" or ""
    kid: str = ""
    epoch: int | None = None  # the Redis epoch it was minted under (store.redis), if any
    score: float | None = None  # risk, 0.0-1.0 (abuse.score); None: minted before scores
    reasons: tuple[str, ...] = ()  # score_reason codes (abuse.score.REASONS)
    markers: tuple[str, ...] = ()  # automation markers the widget reported (never stored)
    interface: str = HCAPTCHA  # which interface's widget or call earned it (INTERFACES)
    action: str = ""  # bound by the page (Turnstile `action`, reCAPTCHA v3 action)
    cdata: str = ""  # bound by the page (Turnstile `cData`)

    @property
    def expires_ms(self) -> int:
        return self.issued_ms + self.lifetime * 1000

    @property
    def spend_key(self) -> str:
        return "t:" + self.jti


def rqdata_digest(rqdata: str | None) -> str | None:
    return hashlib.sha256(rqdata.encode()).hexdigest() if rqdata else None


def mint(
    sitekey: str,
    hostname: str,
    now: float,
    lifetime: int,
    rqdata: str | None = None,
    bound_ip: str | None = None,
    source: str = "pow",
    mode: str = "",
    epoch: int | None = None,
    score: float | None = None,
    reasons: tuple[str, ...] = (),
    markers: tuple[str, ...] = (),
    interface: str = HCAPTCHA,
    action: str = "",
    cdata: str = "",
) -> PassToken:
    return PassToken(
        jti=secrets.token_hex(16),
        sitekey=sitekey,
        hostname=hostname,
        issued_ms=int(now * 1000),
        lifetime=lifetime,
        rqdata_sha256=rqdata_digest(rqdata),
        bound_ip=bound_ip,
        source=source,
        mode=mode,
        epoch=epoch,
        score=score,
        reasons=reasons,
        markers=markers,
        interface=interface,
        action=action,
        cdata=cdata,
    )


def encode(tok: PassToken, ring: KeyRing) -> str:
    claims = {
        "j": tok.jti,
        "s": tok.sitekey,
        "h": tok.hostname,
        "t": tok.issued_ms,
        "l": tok.lifetime,
        "k": ring.current,
        "o": tok.source,
    }
    if tok.rqdata_sha256:
        claims["r"] = tok.rqdata_sha256
    if tok.bound_ip:
        claims["i"] = tok.bound_ip
    if tok.mode:
        claims["m"] = tok.mode
    if tok.epoch is not None:
        claims["e"] = tok.epoch
    if tok.score is not None:
        claims["sc"] = round(tok.score * 100)  # hundredths: an integer in the JSON
        claims["sr"] = list(tok.reasons)
    if tok.markers:
        claims["a"] = list(tok.markers)
    if tok.interface != HCAPTCHA:  # absent: hCaptcha's, as every token before interfaces
        claims["f"] = tok.interface
    if tok.action:
        claims["ac"] = tok.action
    if tok.cdata:
        claims["cd"] = tok.cdata
    payload = b64encode(json.dumps(claims, separators=(",", ":")).encode())
    signed = PREFIX + payload
    return signed + "." + b64encode(sign(ring.current_key, signed.encode()))


def decode(text: str, ring: KeyRing) -> PassToken:
    """Authenticate and parse a token; expiry is the caller's to check. Raises TokenError,
    UnknownKey for a key id `ring` lacks."""
    if not isinstance(text, str) or len(text) > MAX_ENCODED or not text.startswith(PREFIX):
        raise TokenError("malformed")
    signed, _, sig = text.rpartition(".")
    try:
        claims = json.loads(b64decode(signed[len(PREFIX) :]))
        signature = b64decode(sig)
    except (ValueError, RecursionError):  # RecursionError: JSON nested ~1,000 deep
        raise TokenError("malformed") from None
    if not isinstance(claims, dict):
        raise TokenError("malformed")
    kid = claims.get("k")
    if not isinstance(kid, str):
        raise TokenError("malformed")
    key = ring.get(kid)
    if key is None:
        raise UnknownKey(kid)
    if not verify(key, signed.encode(), signature):
        raise TokenError("bad signature")
    try:
        tok = PassToken(
            jti=_str(claims["j"]),
            sitekey=_str(claims["s"]),
            hostname=_str(claims["h"]),
            issued_ms=_int(claims["t"]),
            lifetime=_int(claims["l"]),
            rqdata_sha256=_opt_str(claims.get("r")),
            bound_ip=_opt_str(claims.get("i")),
            source=_str(claims["o"]),
            mode=_opt_str(claims.get("m")) or "",
            kid=kid,
            epoch=_opt_int(claims.get("e")),
            score=None if claims.get("sc") is None else _int(claims["sc"]) / 100,
            reasons=_strs(claims.get("sr")),
            markers=_strs(claims.get("a")),
            interface=_opt_str(claims.get("f")) or HCAPTCHA,
            action=_opt_str(claims.get("ac")) or "",
            cdata=_opt_str(claims.get("cd")) or "",
        )
    except (KeyError, TypeError):
        raise TokenError("malformed") from None
    return tok


def key_id(text: str) -> str | None:
    """The key id a token claims, unauthenticated, or None when unreadable."""
    try:
        claims = json.loads(b64decode(text[len(PREFIX) :].rpartition(".")[0]))
    except (ValueError, TypeError, RecursionError):
        return None
    kid = claims.get("k") if isinstance(claims, dict) else None
    return kid if isinstance(kid, str) else None


def response_key(tok: PassToken, ring: KeyRing) -> str:
    """The `E0_` response key `getRespKey` returns for this token."""
    key = ring.get(tok.kid) or ring.current_key
    return "E0_" + b64encode(sign(key, b"ekey:" + tok.jti.encode())[:24])


def _str(v: object) -> str:
    if not isinstance(v, str):
        raise TypeError
    return v


def _opt_str(v: object) -> str | None:
    return None if v is None else _str(v)


def _strs(v: object) -> tuple[str, ...]:
    if v is None:
        return ()
    if not isinstance(v, list):
        raise TypeError
    return tuple(_str(x) for x in v)


def _opt_int(v: object) -> int | None:
    return None if v is None else _int(v)


def _int(v: object) -> int:
    if type(v) is not int:
        raise TypeError
    return v
