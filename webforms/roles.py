"""Which roles see and do what on the Steering Group's pages (register, reports, meetings, costs)."""

from __future__ import annotations

from engine.platform import access

CST, CSP_CHAIR, STEERING = "Community Safety Team", "CSP Chair", "Steering Group"

DASHBOARD_ROLES = (CST, CSP_CHAIR, STEERING)
REPORT_ROLES = (CST, CSP_CHAIR, STEERING, access.AUDITOR)
# The Steering Group (or the CST for it) asks every action holder for an update at once.
UPDATE_REQUESTERS = (CST, STEERING)
MEETING_VIEWERS = (CST, CSP_CHAIR, STEERING, access.AUDITOR)
MEETING_RECORDERS = (CST, STEERING)
COST_VIEWERS = (CST, CSP_CHAIR, STEERING, access.AUDITOR)
COST_RECORDERS = (CST,)
BUDGET_SETTERS = (CST, CSP_CHAIR)
