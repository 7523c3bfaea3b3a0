"""What a partner bank runs against the remittance hub: ledger wire format, proofs, verifier."""
