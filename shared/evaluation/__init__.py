"""Scoring answers against a golden dataset and comparing two runs (pure statistics): used by
`ladle eval` (the application) and the console's evaluation page (a service)."""
