"""The outside world (workbooks, Google Sheets, email, the delivery ledger), behind small interfaces."""
