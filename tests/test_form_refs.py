"""Form files are self-contained: a `$ref` points inside its file or to another form file of the same
version; anything else is refused when the diagrams are validated, and validating a submission never
opens a network connection or a local file."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from engine.bpmn.forms import validate_submission
from engine.bpmn.library import load_bundle
from engine.platform.errors import DhrError, FormDataInvalid

from .test_library import bundle_with, problems

IMR = "forms/imr.schema.json"


def imr_with(**properties: object) -> str:
    return json.dumps({"title": "IMR", "type": "object", "required": ["summary"],
                       "properties": {"summary": {"type": "string", "minLength": 1}, **properties}}, indent=2)


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback that records every request it gets."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (the standard library's name)
            seen.append(self.path)
            body = b'{"type": "string", "maxLength": 1}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/evil.json", seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("outside", ["http://127.0.0.1:9/evil.json", "file:///etc/passwd", "/etc/passwd",
                                     "../../outside.schema.json", "urn:other:thing"])
def test_a_reference_outside_the_version_is_refused_with_file_and_json_path(outside: str) -> None:
    found = problems(bundle_with(**{IMR: imr_with(contact={"$ref": outside})}))
    [problem] = [p for p in found if p.file == IMR]
    assert "at /properties/contact/$ref:" in problem.message
    assert f"'{outside}' is outside" in problem.message


def test_other_reference_keywords_and_nested_ids_are_refused() -> None:
    found = problems(bundle_with(**{IMR: imr_with(a={"$dynamicRef": "#meta"},
                                                  b={"$id": "http://127.0.0.1:9/", "type": "string"})}))
    messages = sorted(p.message for p in found if p.file == IMR)
    assert messages == ["at /properties/a/$dynamicRef: '$dynamicRef' is not supported in form files; use '$ref'",
                        "at /properties/b/$id: '$id' may only be given at the top level of a form file"]


def test_references_inside_the_file_and_to_another_form_file_of_the_version_work() -> None:
    common = json.dumps({"$id": "https://dhr.local/processes/forms/common.schema.json",
                         "$defs": {"email": {"type": "string", "format": "email"},
                                   "contact": {"type": "object", "properties": {"email": {"$ref": "#/$defs/email"}},
                                               "required": ["email"]}}})
    imr = json.loads(imr_with(contact={"$ref": "common.schema.json#/$defs/contact"},
                              short={"$ref": "#/$defs/short"}))
    imr["$id"] = "https://dhr.local/processes/forms/imr.schema.json"
    imr["$defs"] = {"short": {"type": "string", "maxLength": 3}}
    bundle = load_bundle(bundle_with(**{IMR: json.dumps(imr), "forms/common.schema.json": common}))
    schema = bundle.forms[IMR]
    assert validate_submission(schema, {"summary": "s", "contact": {"email": "a@example.org"}, "short": "abc"})
    with pytest.raises(FormDataInvalid) as caught:
        validate_submission(schema, {"summary": "s", "contact": {"email": "not an address"}, "short": "abcd"})
    assert set(caught.value.errors) == {"contact.email", "short"}


def test_a_version_deployed_before_the_rule_never_fetches(listener: tuple[str, list[str]]) -> None:
    """An old deployed version still loads (its cases must not stall); submitting its form is a clear
    error, and the server makes no request."""
    url, seen = listener
    files = bundle_with(**{IMR: imr_with(contact={"$ref": url})})
    schema = load_bundle(files, trusted=True).forms[IMR]
    with pytest.raises(DhrError, match="outside its process version") as caught:
        validate_submission(schema, {"summary": "s", "contact": "xx"})
    assert not isinstance(caught.value, FormDataInvalid)
    assert seen == []


def test_a_local_file_is_never_opened() -> None:
    schema = load_bundle(bundle_with(**{IMR: imr_with(contact={"$ref": "file:///etc/passwd"})}),
                         trusted=True).forms[IMR]
    with pytest.raises(DhrError, match="'file:///etc/passwd', outside its process version"):
        validate_submission(schema, {"summary": "s", "contact": "x"})
