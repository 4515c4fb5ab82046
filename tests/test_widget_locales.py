"""The widget's locales as data (widget/locales/CODE.json: every key, no empty string, the
placeholders kept, translated), as served (compact, content-hashed, immutable, named by
frame.js with English built in), and the page path's size in every language."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from passgate.widget import assets

pytestmark = pytest.mark.anyio

# issue 15: the languages at least three of the peers speak, and the regional variants.
EXPECTED = set(
    "af am ar az bg bn bs ca cs da de el en es et eu fa fi fil fr gl gu he hi hr hu hy id is it "
    "ja ka kk kn ko lt lv ml mr ms nb nl pl pt ro ru sk sl sr sv sw ta te th tr uk ur vi "
    "zh-Hans zh-Hant pt-PT es-419 fr-CA en-GB".split()
)
# Strings that may equal English's: British English differs only where the words do.
SAME_AS_ENGLISH = {"en-GB": "*"}
PLACEHOLDER = re.compile(r"\{\w+\}")
BUDGET = 16 * 1024  # the page path, gzip, in any language (issue 15)
FILES = {p.stem: p for p in sorted(assets.LOCALES.glob("*.json"))}
ENGLISH = json.loads(FILES["en"].read_text("utf-8"))


def strings(code: str) -> dict[str, str]:
    data = json.loads(FILES[code].read_text("utf-8"))
    assert isinstance(data, dict), code
    return data


def test_the_expected_languages_are_there() -> None:
    assert set(FILES) == EXPECTED


@pytest.mark.parametrize("code", sorted(FILES))
def test_a_locale_has_every_key_and_its_placeholders(code: str) -> None:
    data = strings(code)
    assert list(data) == list(ENGLISH), "the keys of en.json, in its order"
    for key, text in data.items():
        assert isinstance(text, str) and text.strip() == text and text, (key, text)
        assert sorted(PLACEHOLDER.findall(text)) == sorted(PLACEHOLDER.findall(ENGLISH[key])), key
        assert "{" not in PLACEHOLDER.sub("", text) and "}" not in PLACEHOLDER.sub("", text), key


@pytest.mark.parametrize("code", sorted(set(FILES) - {"en"}))
def test_a_locale_is_translated(code: str) -> None:
    allowed = SAME_AS_ENGLISH.get(code, ())
    same = [k for k, text in strings(code).items() if text == ENGLISH[k]]
    assert allowed == "*" or not set(same) - set(allowed), same


@pytest.mark.parametrize("code", sorted(FILES))
def test_no_locale_string_names_the_brand(code: str) -> None:
    """The brand is the frame's own, untranslated (frame.html): no string repeats it."""
    assert not [k for k, text in strings(code).items() if "passgate" in text.lower()]


def test_frame_js_shows_only_locale_keys() -> None:
    """frame.js's keys are en.json's: every string it shows comes from the locale."""
    js = (Path(assets.__file__).with_name("static") / "frame.js").read_text()
    used = set(re.findall(r"\bT\.([a-z]+)\b", js)) | set(re.findall(r'\bT\["([\w-]+)"\]', js))
    assert used <= set(ENGLISH)


def locale_list(frame_js: str) -> tuple[str, list[str]]:
    """The locales' common hash and their codes, as assets.py wrote them into frame.js."""
    m = re.search(r'"([0-9a-f]{12}(?: [A-Za-z0-9-]+)+)"', frame_js)
    assert m, "frame.js names no locales"
    digest, *codes = m[1].split(" ")
    return digest, codes


async def test_locales_are_served_compact_hashed_and_immutable(client) -> None:
    frame = (await client.get("/1/frame")).text
    js = (await client.get("/1/" + re.search(r"static/frame\.\w+\.js", frame)[0])).text
    assert "@@passgate:" not in js
    digest, codes = locale_list(js)
    assert sorted(codes) == sorted(FILES)
    english = re.search(r'JSON\.parse\(("(?:[^"\\]|\\.)*")\)', js)
    assert english and json.loads(json.loads(english[1])) == ENGLISH, "English built in"
    for code in codes:
        url = f"/1/static/locales/{code}.{digest}.json"
        r = await client.get(url, headers={"accept-encoding": "gzip"})
        assert r.status_code == 200, code
        assert r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["content-encoding"] == "gzip"
        assert r.headers["access-control-allow-origin"] == "*"
        assert r.json() == strings(code)
        assert b"\n" not in r.content and b'": "' not in r.content, "compact"
        again = await client.get(url, headers={"if-none-match": r.headers["etag"]})
        assert again.status_code == 304
    plain = await client.get("/1/static/locales/de.json")
    assert plain.headers["cache-control"].startswith("public, max-age=86400")
    for bad in (f"xx.{digest}.json", "de.000000000000.json", "..json", "frame.js"):
        r = await client.get("/1/static/locales/" + bad)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain"), bad


def test_the_locales_hash_changes_with_any_locale(tmp_path: Path) -> None:
    (tmp_path / "frame.js").write_text('var T = "@@passgate:en@@", L = "@@passgate:locales@@";')
    en, de = b'{"human":"I am human"}', b'{"human":"Ich bin ein Mensch"}'
    one = assets.AssetTable(tmp_path, hashed=True, locales={"de": de, "en": en})
    two = assets.AssetTable(tmp_path, hashed=True, locales={"de": de + b" ", "en": en})
    assert one.locale_hash != two.locale_hash
    assert one.hashed["frame.js"] != two.hashed["frame.js"]
    body = one.assets[one.hashed["frame.js"]].body.decode()
    assert body == (
        'var T = "{\\"human\\":\\"I am human\\"}", L = "' + one.locale_hash + ' de en";'
    )
    assert one.assets[f"locales/de.{one.locale_hash}.json"].body == de


def page_path(code: str | None) -> dict[str, int]:
    """What a page with the widget transfers, gzip, in one language (None: English, built in)."""
    t = assets.table()
    names = ["api.js", "frame.html"] + [t.hashed[n] for n in ("frame.css", "frame.js", "worker.js")]
    if code:
        names.append(f"locales/{code}.{t.locale_hash}.json")
    return {name: len(t.assets[name].gzipped) for name in names}


def test_the_page_path_fits_the_budget_in_every_language() -> None:
    english = sum(page_path(None).values())
    assert english <= BUDGET
    for code in FILES:
        if code != "en":
            total = sum(page_path(code).values())
            assert total <= BUDGET, (code, total)


def test_locale_files_are_utf8_json_of_strings() -> None:
    for code, path in FILES.items():
        raw = path.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), code  # no byte-order mark
        data = json.loads(raw.decode("utf-8"))
        assert all(isinstance(v, str) for v in data.values()), code
