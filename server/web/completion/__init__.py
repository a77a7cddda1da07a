"""Completing a program: requirements, write-ups, certificates, reminders."""
