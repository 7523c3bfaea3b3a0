from ledger.models.log import (
    Checkpoint,
    Cosignature,
    Entry,
    QueuedStatement,
    TreeNode,
    Witness,
)
from ledger.models.money import Account, AccountKind, Transfer, TransferKind

__all__ = [
    "Account",
    "AccountKind",
    "Checkpoint",
    "Cosignature",
    "Entry",
    "QueuedStatement",
    "Transfer",
    "TransferKind",
    "TreeNode",
    "Witness",
]
