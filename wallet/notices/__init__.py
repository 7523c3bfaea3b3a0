"""Notices to wallet customers: an in-app notice and an e-mail when a transfer is delivered
or refunded, or their KYC record needs more information. Its own app (label
`wallet_notices`) so its model and migrations stand apart from the rest of the wallet."""
