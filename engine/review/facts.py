"""The case variables that reports and pages read without loading a case: the runtime copies them
into `case_instance.facts` as the diagrams set them (processes/README.md names them)."""

from __future__ import annotations

from ..platform import events

FACT_VARIABLES = ("notification_date", "decision_date", "review_type", "clock_start_date",
                  "completion_due_date", "report_approved_on", "published_on",
                  "decision_due_date", "publication_date")


def subscribe() -> None:
    events.project(*FACT_VARIABLES)
