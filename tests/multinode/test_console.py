"""The console across nodes: a session made on one node works on another (no sticky
sessions), `user passwd` on any machine ends it everywhere, and the sign-in limits are one
limit, however the attempts are spread over the nodes."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

from .conftest import Cluster

pytestmark = [pytest.mark.multinode, pytest.mark.slow]

PASSWORD = "correct horse battery"


def add_user(cluster: Cluster, name: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "passgate.cli", "user", "add", name, "--role", "owner",
         "--password-stdin"],
        env=cluster.env, input=PASSWORD, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


def sign_in_form(client: httpx.Client, url: str) -> str:
    page = client.get(url + "/console/")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def attempt(client: httpx.Client, url: str, name: str, password: str) -> httpx.Response:
    csrf = sign_in_form(client, url)
    return client.post(
        url + "/console/signin",
        data={"csrf": csrf, "name": name, "password": password},
        follow_redirects=False,
    )


def test_a_session_from_one_node_works_on_another(pg_cluster: Cluster) -> None:
    add_user(pg_cluster, "nadia")
    a, b = pg_cluster.urls
    with httpx.Client() as client:
        signed = attempt(client, a, "nadia", PASSWORD)
        assert signed.status_code == 303, signed.text
        cookie = client.cookies.get("passgate_console")
        assert cookie
    with httpx.Client(cookies={"passgate_console": cookie}) as other:
        page = other.get(b + "/console/sites")
        assert page.status_code == 200 and "Sign out" in page.text
        pg_cluster.cli("user", "role", "nadia", "viewer")  # ends every session of hers
        gone = other.get(a + "/console/sites", follow_redirects=True)
        assert "Sign out" not in gone.text and "User name" in gone.text


def test_sign_in_limits_are_shared_by_the_nodes(pg_cluster: Cluster) -> None:
    add_user(pg_cluster, "omar")
    a, b = pg_cluster.urls
    codes = []
    with httpx.Client() as client:
        for i in range(6):  # 5 attempts a burst per account, alternating nodes
            codes.append(attempt(client, (a, b)[i % 2], "omar", "wrong password!").status_code)
        assert codes[:5] == [401] * 5 and codes[5] == 429, codes
        late = attempt(client, a, "omar", PASSWORD)  # the right password waits its turn too
        assert late.status_code == 429
        assert "Too many sign-in attempts" in late.text
