"""The audit trail: what each event kind records and how the history page words it."""
