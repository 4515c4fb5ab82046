"""Published server-side client libraries, run for real against a live `passgate demo`, with
their verify URL pointed at passgate: Flask-Turnstile (Turnstile, `VERIFY_URL` on the
instance) and Flask-WTF (reCAPTCHA, `RECAPTCHA_VERIFY_SERVER`). Each verifies a real token,
earned over HTTP the widget's way: success once, then failure on the replay.

Any connection to a non-loopback address fails the test (the machine has no internet
anyway): the libraries may talk to passgate only.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import flask_turnstile
import flask_wtf
import httpx
import pytest
from flask import Flask
from flask_turnstile import Turnstile
from flask_wtf import FlaskForm, RecaptchaField

from passgate import challenge
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow

DEMO_HOST = "localhost"  # a hostname of the demo site
VISITOR = "127.0.0.1"  # the address that earns the tokens, and the one the libraries send


def earn(server: LiveServer, **bind: str) -> str:
    """The widget's way, over HTTP: a challenge, its proof of work, the solve, with the
    interface (and action) the page's script binds."""
    base, sitekey = server.base_url, server.sitekey
    data = httpx.post(f"{base}/1/challenge", json={"sitekey": sitekey, "host": DEMO_HOST}).json()
    ch = challenge.Challenge(
        sitekey, DEMO_HOST, data["salt"], data["difficulty"], data["parts"], data["expires"]
    )
    solved = httpx.post(
        f"{base}/1/solve",
        json={"challenge": data["challenge"], "nonces": challenge.solve(ch), **bind},
    )
    assert solved.status_code == 200, solved.text
    return str(solved.json()["token"])


def _is_loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Refuses, and records, every name lookup and connection that is not loopback."""
    tried: list[Any] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            tried.append(address)
            raise OSError(f"outbound connection blocked by the test: {address!r}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host is not None and not _is_loopback(host):
            tried.append(host)
            raise socket.gaierror(f"name lookup blocked by the test: {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield tried
    assert tried == [], f"the library tried to reach {tried}"


# -- Turnstile: Flask-Turnstile --------------------------------------------------------------


def turnstile_app(server: LiveServer) -> tuple[Flask, Turnstile]:
    app = Flask(__name__)
    app.config.update(
        TURNSTILE_SITE_KEY=server.sitekey,
        TURNSTILE_SECRET_KEY=server.secret,
        TURNSTILE_ENABLED=True,
    )
    ts = Turnstile(app=app)
    ts.VERIFY_URL = f"{server.base_url}/turnstile/v0/siteverify"  # the recipe's one line
    return app, ts


def test_flask_turnstile_verifies_once(live_server: LiveServer, loopback_only) -> None:
    """Flask-Turnstile: verify() reads `cf-turnstile-response` from the form and
    REMOTE_ADDR, POSTs them with the secret to VERIFY_URL (requests), reads `success`."""
    assert flask_turnstile.__version__ >= "0.2.0"
    app, ts = turnstile_app(live_server)
    tok = earn(live_server, interface="turnstile")
    form = {"cf-turnstile-response": tok}
    env = {"REMOTE_ADDR": VISITOR}
    with app.test_request_context("/signup", method="POST", data=form, environ_base=env):
        assert ts.verify() is True
    with app.test_request_context("/signup", method="POST", data=form, environ_base=env):
        assert ts.verify() is False
        answer = ts.get_response()
    assert answer == {"success": False, "error-codes": ["timeout-or-duplicate"]}


def test_flask_turnstile_get_response_carries_action(
    live_server: LiveServer, loopback_only
) -> None:
    """get_response(response=, remote_ip=) outside a form: the raw answer, with the action
    and cData bound by the widget."""
    app, ts = turnstile_app(live_server)
    tok = earn(live_server, interface="turnstile", action="signup", cdata="c-7")
    with app.app_context():
        first = ts.get_response(response=tok, remote_ip=VISITOR)
        assert first["success"] is True and first["hostname"] == DEMO_HOST
        assert (first["action"], first["cdata"]) == ("signup", "c-7")
        assert "score" not in first
        assert ts.verify(response=tok, remote_ip=VISITOR) is False


# -- reCAPTCHA: Flask-WTF --------------------------------------------------------------------


class SignupForm(FlaskForm):
    recaptcha = RecaptchaField()


def recaptcha_app(server: LiveServer) -> Flask:
    app = Flask(__name__)
    app.config.update(
        TESTING=False,  # Flask-WTF skips verification under TESTING
        SECRET_KEY="test",
        WTF_CSRF_ENABLED=False,
        RECAPTCHA_PUBLIC_KEY=server.sitekey,
        RECAPTCHA_PRIVATE_KEY=server.secret,
        RECAPTCHA_VERIFY_SERVER=f"{server.base_url}/recaptcha/api/siteverify",
        RECAPTCHA_SCRIPT=f"{server.base_url}/recaptcha/api.js",
    )
    return app


@pytest.mark.parametrize("body", ["form", "json"])
def test_flask_wtf_recaptcha_verifies_once(
    live_server: LiveServer, loopback_only, body: str
) -> None:
    """Flask-WTF's Recaptcha validator: `g-recaptcha-response` from the form (or a JSON
    body), POSTed with the secret and remote_addr to RECAPTCHA_VERIFY_SERVER (urllib);
    reads `success`, then `error-codes`."""
    assert flask_wtf.__version__ >= "1.2"
    app = recaptcha_app(live_server)
    tok = earn(live_server, interface="recaptcha")
    sent: dict[str, Any] = (
        {"data": {"g-recaptcha-response": tok}}
        if body == "form"
        else {"json": {"g-recaptcha-response": tok}}
    )
    env = {"REMOTE_ADDR": VISITOR}
    with app.test_request_context("/signup", method="POST", environ_base=env, **sent):
        form = SignupForm()
        assert form.validate() is True, form.errors
    with app.test_request_context("/signup", method="POST", environ_base=env, **sent):
        form = SignupForm()
        assert form.validate() is False
        assert form.recaptcha.errors
        assert getattr(form.recaptcha, "recaptcha_error", None) == "incorrect-captcha-sol"


def test_flask_wtf_widget_points_at_passgate(live_server: LiveServer, loopback_only) -> None:
    """The field's markup loads RECAPTCHA_SCRIPT into a `.g-recaptcha[data-sitekey]`."""
    app = recaptcha_app(live_server)
    with app.test_request_context("/signup"):
        html = str(SignupForm().recaptcha())
    assert f"<script src='{live_server.base_url}/recaptcha/api.js' async defer>" in html
    assert 'class="g-recaptcha"' in html and f'data-sitekey="{live_server.sitekey}"' in html
