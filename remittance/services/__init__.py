"""Writes for remittance: quotes (`quotes`), orders and their state machine (`orders`)."""
