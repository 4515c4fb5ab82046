"""The whole path through the API in process: challenge, solve, siteverify once."""

import pytest

from tests.conftest import SiteCreds, earn_token

pytestmark = pytest.mark.anyio


async def test_token_verifies_once(client, site: SiteCreds) -> None:
    earned = await earn_token(client, site.sitekey)
    form = {"secret": site.secret, "response": earned["token"]}
    first = (await client.post("/siteverify", data=form)).json()
    assert first["success"] is True
    assert first["hostname"] == "shop.example"
    second = (await client.post("/siteverify", data=form)).json()
    assert second == {"success": False, "error-codes": ["already-seen-response"]}
