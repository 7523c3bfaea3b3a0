"""Writes to the ledger. `log` is the signed statement log; `money` the double-entry ledger."""
