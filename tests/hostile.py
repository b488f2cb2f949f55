"""A completed review whose action plan holds what a careless or hostile user might type: text a
spreadsheet would run as a formula, control characters (as pasted from Word, or worse), and Welsh
and typographic characters beyond Latin-1. Typed through the real action-plan form, on seed 001's
cut-down review diagram, so every download meets it as it would arrive.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from . import seed_001
from .conftest import World

HYPERLINK = '=HYPERLINK("http://example.invalid/?leak","Click me")'
FORMULAS = (HYPERLINK, "+1", "-1", "@SUM(A1:A9)")
CONTROLS = "Share records\u0001 now\u000bthen\u000cagain\u001b[2J\u0007 review"  # \v, \f: Word's breaks
WELSH_AGENCY = "Heddlu – Gwasanaeth ŵ’r Cymoedd\u0001"
NATIONAL_BODY = "Swyddfa’r Cabinet – ŵ"
REFERENCE = "Hostile/2024"
PERIOD = (date(2024, 4, 1), date(2026, 3, 31))
AGREED = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


def _item(text: str, agency: str, *, smart: str = "Act", holder: str = "A. Holder", national: str = "") -> dict:
    item = {"recommendation": text, "theme": "Risk Assessment", "lead_agency": agency,
            "scope": "National" if national else "Local", "smart_action": smart, "action_holder": holder,
            "action_holder_email": "holder@example.org", "target_date": "2026-06-30"}
    if national:
        item["national_body"] = national
    return item


ITEMS = [
    _item(HYPERLINK, "+1", smart="-1", holder="@SUM(A1:A9)", national="=cmd|' /C calc'!A0"),
    _item(CONTROLS, WELSH_AGENCY, smart="Tell the family ‘soon’ – ŵ", national=NATIONAL_BODY),
    _item("-1", "@SUM(A1:A9)", smart="+1"),
]


def build(world: World, cst: str) -> str:
    """Deploy the review diagram and complete the hostile review; `cst` names a Community Safety Team user."""
    seed_001.deploy(world)
    world.clock.set(AGREED)
    reference = world.start("Hostile", 2024, process="review_fixture")
    world.complete("decide", {"review_type": "DHR", "decision_date": "2024-05-01"}, cst, reference)
    world.complete("agree_action_plan", {"recommendations": ITEMS, "action_plan_agreed_on": "2026-01-05"}, cst,
                   reference)
    world.complete("approve", {"report_approved_on": "2024-12-01"}, cst, reference)
    return reference
