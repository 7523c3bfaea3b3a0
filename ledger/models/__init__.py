from ledger.models.log import Checkpoint, Cosignature, Entry, QueuedStatement, TreeNode
from ledger.models.money import Account, Transfer

__all__ = [
    "Account",
    "Checkpoint",
    "Cosignature",
    "Entry",
    "QueuedStatement",
    "Transfer",
    "TreeNode",
]
