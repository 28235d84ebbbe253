"""Helpers shared by the tests: imported by them, never collected (no test_ files here)."""
