"""No input makes a server error: generated and hostile values go to every form of the DHR diagrams
and to every fixed form of the app, through the web app, as a browser (or an attacker) would send
them. The examples are fixed (`derandomize`) and bounded, so CI runs the same ones every time.

Every form file of processes/ is deployed as the DHR version has it; a test diagram beside them
opens one task per form at once (a parallel gateway), so each form can be posted to.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from engine.bpmn.library import read_folder

from .conftest import PROCESSES, Web

HOSTILE = [
    "9" * 40, "-1", "0", "99999999999999999999999", "1e309", "NaN", "-0", "2026-02-30", "31", "13", "0000",
    "\u0001", "\u000b", "\u0000", "a\u0000b", "\ufeff", "\u202e", "=HYPERLINK(\"http://127.0.0.1:9/\")", "+1",
    "@SUM(A1)",
    "<script>alert(1)</script>", "{{ 7*7 }}", "{% raw %}", "../../etc/passwd", "%00", "'; DROP TABLE users; --",
    "data:text/html;base64,PGgxPmhpPC9oMT4=", "1", "true", "null", "[]", "{}", " ", "x" * 5000, "Ŵŵ – ’",
]
VALUES = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
TASK_LANE = "Community Safety Team"


def all_forms_diagram(forms: list[str]) -> str:
    """A process whose start opens one task per form file, all at once, in one lane."""
    tasks = "".join(
        f'<bpmn:sequenceFlow id="to_{i}" sourceRef="fan_out" targetRef="form_{i}"/>'
        f'<bpmn:userTask id="form_{i}" name="Form {i}"><bpmn:extensionElements><spiffworkflow:properties>'
        f'<spiffworkflow:property name="formJsonSchemaFilename" value="{form}"/>'
        f'</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>'
        f'<bpmn:sequenceFlow id="from_{i}" sourceRef="form_{i}" targetRef="fan_in"/>'
        for i, form in enumerate(forms))
    refs = "".join(f"<bpmn:flowNodeRef>form_{i}</bpmn:flowNodeRef>" for i in range(len(forms)))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="all_forms_defs"
    targetNamespace="http://example.org/dhr-tests">
  <bpmn:process id="all_forms" name="Every form" isExecutable="true">
    <bpmn:laneSet id="all_forms_lanes"><bpmn:lane id="lane" name="{TASK_LANE}">
      <bpmn:flowNodeRef>start</bpmn:flowNodeRef><bpmn:flowNodeRef>fan_out</bpmn:flowNodeRef>{refs}
      <bpmn:flowNodeRef>fan_in</bpmn:flowNodeRef><bpmn:flowNodeRef>end</bpmn:flowNodeRef>
    </bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="to_fan_out" sourceRef="start" targetRef="fan_out"/>
    <bpmn:parallelGateway id="fan_out"/>{tasks}
    <bpmn:parallelGateway id="fan_in"/>
    <bpmn:sequenceFlow id="to_end" sourceRef="fan_in" targetRef="end"/>
    <bpmn:endEvent id="end"/>
  </bpmn:process>
</bpmn:definitions>"""


class Forms(HTMLParser):
    """The forms of a page: action, method and the names (and button values) of their fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, object]] = []
        self._open: dict[str, object] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = {"action": a.get("action", ""), "method": a.get("method", "get").lower(),
                          "names": set(), "actions": set()}
            self.forms.append(self._open)
        elif self._open is not None and tag in ("input", "textarea", "select", "button") and a.get("name"):
            if a["name"] == "_action":
                self._open["actions"].add(a.get("value", ""))  # type: ignore[attr-defined]
            elif a["name"] != "csrf_token":
                self._open["names"].add(a["name"])  # type: ignore[attr-defined]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def forms_of(page: str) -> list[dict[str, object]]:
    parser = Forms()
    parser.feed(page)
    return parser.forms


def post_each(web: Web, url: str, names: set[str], actions: set[str], data: st.DataObject) -> None:
    values = {name: data.draw(VALUES, label=name) for name in sorted(names)}
    values.update({f"{name}.day": data.draw(VALUES) for name in sorted(names) if name.endswith(".day")})
    if actions:
        values["_action"] = data.draw(st.sampled_from(sorted(actions)), label="_action")
    response = web.post(url, values)
    assert response.status_code < 500, f"{url}: {response.status_code}"
    assert "Traceback" not in response.get_data(as_text=True)


@pytest.fixture
def every_form(web: Web, monkeypatch: pytest.MonkeyPatch,
               tmp_path: Path) -> tuple[Web, list[tuple[str, set[str], set[str]]]]:
    # Hostile values, not restarts, are what this tries: parsing 60 forms anew for each post would
    # only make it slow.
    monkeypatch.setenv("DHR_RESTART_EACH_STEP", "0")
    files = read_folder(PROCESSES)
    forms = sorted(name for name in files if name.endswith(".schema.json"))
    files["all_forms.bpmn"] = all_forms_diagram(forms)
    folder = tmp_path / "all_forms"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(text)
    web.deploy(folder)
    case_id = web.start(process="all_forms")
    cst = web.as_user("cst")
    targets = []
    for task in web.tasks(case_id):
        page = cst.get(f"/tasks/{task.id}")
        assert page.status_code == 200, task.form
        [form] = [f for f in forms_of(page.get_data(as_text=True)) if f["method"] == "post"
                  and str(f["action"]).endswith(f"/tasks/{task.id}")]
        targets.append((f"/tasks/{task.id}", form["names"], form["actions"]))  # type: ignore[arg-type]
    assert len(targets) == len(forms)
    return cst, targets


# No shrinking (a failure names its URL and values already) and no example database: bounded, the same
# examples on every run.
BOUNDED = {"derandomize": True, "deadline": None, "database": None, "phases": [Phase.explicit, Phase.generate],
           "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]}


@settings(max_examples=4, **BOUNDED)  # type: ignore[arg-type]
@given(data=st.data())
def test_every_dhr_form_survives_hostile_values(every_form: tuple[Web, list[tuple[str, set[str], set[str]]]],
                                                data: st.DataObject, caplog: pytest.LogCaptureFixture) -> None:
    cst, targets = every_form
    with caplog.at_level(logging.ERROR):
        for url, names, actions in targets:
            post_each(cst, url, names, actions, data)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


FIXED_PAGES = {  # the pages with forms, and who sees them
    "admin": ["/admin/users", "/admin/agencies"],
    "cst": ["/meetings/new", "/costs", "/reports/steering-group", "/register", "/inbox", "/cases", "/cases/new",
            "/dashboard"],
    "owner": ["/processes"],
}
SKIP = re.compile(r"sign-out|/remove$")  # ending the session or deleting would end what is tried next


@pytest.fixture
def fixed_forms(web: Web) -> list[tuple[Web, str, str, set[str], set[str]]]:
    web.deploy()
    case_id = web.start()
    found = []
    pages = {**FIXED_PAGES, "cst": [*FIXED_PAGES["cst"], f"/cases/{case_id}", f"/cases/{case_id}/costs/new"]}
    for username, urls in pages.items():
        client = web.as_user(username)
        for url in urls:
            page = client.get(url)
            assert page.status_code == 200, url
            for form in forms_of(page.get_data(as_text=True)):
                action = str(form["action"]) or url
                if not SKIP.search(action):
                    found.append((client, str(form["method"]), action, form["names"], form["actions"]))
    assert len(found) >= 10
    return found  # type: ignore[return-value]


@settings(max_examples=6, **BOUNDED)  # type: ignore[arg-type]
@given(data=st.data())
def test_every_fixed_form_survives_hostile_values(fixed_forms: list[tuple[Web, str, str, set[str], set[str]]],
                                                  data: st.DataObject, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        for client, method, action, names, actions in fixed_forms:
            if method == "post":
                post_each(client, action, names, actions, data)
            else:
                query = {name: data.draw(VALUES, label=name) for name in sorted(names)}
                response = client.get(action, query_string=query)
                assert response.status_code < 500, f"{action}?{query}: {response.status_code}"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.mark.parametrize(("url", "status"), [
    ("/cases/9999999999999999999999999", 404), ("/processes/99999999999999999999999", 404),
    ("/cases/18446744073709551616/history", 404), ("/cases/-1", 404), ("/tasks/not-a-task", 404),
    ("/inbox?case=99999999999999999999999", 200), ("/register?case=99999999999999999999999999", 200),
])
def test_ids_beyond_the_database_range_are_not_found(web: Web, url: str, status: int) -> None:
    """In a path such an id is a page that does not exist; as a filter it matches nothing."""
    client = web.as_user("owner") if url.startswith("/processes") else web.as_user("cst")
    assert client.get(url).status_code == status
