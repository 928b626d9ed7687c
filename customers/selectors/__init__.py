"""Reads shared by several entry paths: matching, duplicates, the audit trail."""
