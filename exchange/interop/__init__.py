"""Other systems' formats: HSDS directories (211), HUD's HMIS CSV and Housing Inventory Count.

`tables` reads CSV (and JSON) files from a directory or a zip; `hsds`, `hud` and `hic`
are pure mappings between those tables and Haven's registry records; `store` holds the
SQL the exports read; `commands` is the `haven` CLI's import and export.
"""
