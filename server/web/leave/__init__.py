"""Leave (请假): requests, decisions by the office or a unit contact, the 1/7 rule."""
