"""Settlement services: windows and netting (`windows`), liquidity (`liquidity`), instructions
and reports (`instructions`), reconciliation (`reconciliation`) and statement import
(`statements`). FX rates live in `settlement.rates`."""
