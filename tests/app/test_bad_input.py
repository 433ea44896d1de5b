"""Bad input through the pages: uploads, folder paths and account forms give a readable st.error
(literal text, naming the file), never a traceback page, never a partial dataset."""

from __future__ import annotations

import html
import io
import json
import re
import zipfile
from pathlib import Path

import pytest

BIG = "long passage " * 800_000  # ~10 MB in one field


def _zip(files: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


BEIR_DUP = _zip({
    "b/corpus.jsonl": '{"_id": "d1", "text": "one"}\n{"_id": "d1", "text": "other"}\n',
    "b/queries.jsonl": '{"_id": "q1", "text": "q"}\n',
    "b/qrels/test.tsv": "query-id\tcorpus-id\tscore\nq1\td1\t1\n"})

BAD = [
    # (file name, bytes, what the error must say)
    ("binary.csv", bytes(range(256)) * 4, "binary data"),
    ("latin1.csv", "anchor,positive\ncafé,crème\n".encode("latin-1"), "not UTF-8"),
    ("utf16.jsonl", '{"a": "q", "p": "d"}\n'.encode("utf-16"), "binary data|not UTF-8"),
    ("../../etc/passwd.csv", b"anchor,positive\nq,d,extra\n", "expected 2 fields"),
    ("nul\x00name.jsonl", b'{"a": "q"}\n', "at least 2 columns"),
    ("missing.jsonl", b'{"a": "q", "p": "d"}\n{"a": "q2"}\n', "missing field"),
    ("**bold** [x](javascript:alert(1)).csv", b"a\n", "empty file"),
    ("slip.zip", _zip({"../../evil/corpus.jsonl": "{}"}), "unsafe path"),
    ("broken.zip", b"PK\x03\x04 not really", "not a valid zip"),
    ("dup.zip", BEIR_DUP, "different text"),
    ("payload.exe", b"MZ\x90\x00", "unsupported upload type"),
]


@pytest.fixture()
def datasets_page(app):
    return app("boss", "pages/datasets.py")  # importing is for admins


def _upload(at, filename: str, data: bytes, name: str):
    at.file_uploader[0].set_value((filename, data, "application/octet-stream"))
    at.text_input(key="up_name").input(name)
    next(b for b in at.button if b.label == "Import upload").click().run()
    return at


@pytest.mark.parametrize("filename,data,message", BAD, ids=[c[0][:20] for c in BAD])
def test_bad_upload_shows_an_error_not_a_traceback(datasets_page, store_of, filename, data,
                                                   message):
    at = _upload(datasets_page, filename, data, "bad")
    assert not at.exception, at.exception
    assert at.error, "no error shown"
    shown = html.unescape(at.error[0].value)  # the page entity-escapes it: literal text
    assert re.search(message, shown), shown
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].replace("\x00", "")
    assert base.split(".")[0][:8] in shown  # names the uploaded file, not a temp path
    assert "negaudit-upload-" not in shown
    assert not any(c in at.error[0].value for c in "*[]()`<>")  # no live markdown/HTML
    assert "bad" not in store_of.dataset_names()


def test_good_upload_with_a_10mb_passage_imports(datasets_page, store_of):
    rows = [{"anchor": "what is long?", "positive": BIG, "negative": "short"},
            {"anchor": "what is long?", "positive": BIG, "negative": "=1+1"}]  # duplicate text
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    at = _upload(datasets_page, "train.jsonl", data, "big")
    assert not at.exception, at.exception
    assert not at.error, at.error[0].value
    docs = store_of.docs("big")
    assert len(docs) == 3 and BIG in set(docs.text) and "=1+1" in set(docs.text)  # exact text
    assert store_of.counts("big")[0].queries == 1  # duplicate rows de-duplicated


def test_an_upload_names_its_column_roles_on_the_page(datasets_page, store_of):
    """The admin audit: a misnamed ST upload was told to use --columns, which the upload form did not have."""
    rows = [{"positive": "a passage about cats", "anchor": "what do cats eat?"},
            {"positive": "a passage about dogs", "anchor": "what do dogs eat?"}]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    at = _upload(datasets_page, "pairs.jsonl", data, "pairs")
    said = html.unescape(at.error[0].value) if at.error else ""
    assert '"Column roles"' in said and "--columns" not in said, said
    at.text_input(key="up_columns").input("anchor=anchor,positive=positive")
    at = _upload(at, "pairs.jsonl", data, "pairs")
    assert not at.exception and not at.error, at.error[0].value if at.error else at.exception
    assert set(store_of.queries("pairs").text) == {"what do cats eat?", "what do dogs eat?"}


@pytest.mark.parametrize("path", ["no/such/folder", "/etc/passwd", "../../../etc", "a\x00b", "",
                                  "**x** <script>alert(1)</script>"])
def test_bad_folder_path_shows_an_error_not_a_traceback(datasets_page, store_of, path):
    at = datasets_page
    at.text_input[0].input(path)
    at.text_input(key="path_name").input("bad")
    next(b for b in at.button if b.label == "Import folder").click().run()
    assert not at.exception, at.exception
    assert at.error and not any(c in at.error[0].value for c in "*<>")
    assert "bad" not in store_of.dataset_names()


def test_admin_account_form_errors_are_shown_not_raised(app, store_of):
    at = app("boss", "pages/admin.py")
    for name, pw, message in [("bad name!", "pw-1234", "invalid user name"),
                              ("x'); DROP TABLE annotators;--", "pw-1234", "invalid user name"),
                              ("eve", "", "too short")]:
        form = [t for t in at.text_input if t.label in ("Name", "Password")]
        form[0].input(name)
        form[1].input(pw)
        next(b for b in at.button if b.label == "Save account").click().run()
        assert not at.exception, at.exception
        assert at.error and message in html.unescape(at.error[0].value)
    assert set(store_of.annotators()["name"]) == {"boss", "ann"}


@pytest.mark.parametrize("token", ["expired", "garbage", "' OR '1'='1", "x" * 5000])
def test_expired_or_forged_session_token_gets_the_sign_in_page(db, store_of, token):
    from datetime import timedelta

    from streamlit.testing.v1 import AppTest

    from core import auth
    if token == "expired":
        _, token = auth.sign_in(store_of, "boss", "pw-boss", ttl=timedelta(seconds=-1))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"),
                           default_timeout=60)
    at.query_params["session"] = token
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("negaudit — sign in")
    assert "session" not in at.query_params  # the dead token is dropped from the URL
    assert any("Your session ended" in i.value for i in at.info)  # says why the sign-in page is back
