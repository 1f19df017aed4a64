"""Destination backends behind one Protocol; each library is imported only by its backend."""

from __future__ import annotations

from importlib import import_module

from hlsd.config import TransferProfile
from hlsd.publish.transfer.base import Transfer, TransferError

__all__ = ["BACKENDS", "Transfer", "TransferError", "create"]

# transfer_type -> "module:Class", imported lazily so a missing optional library
# only matters to the operator who configured that backend.
BACKENDS = {
    "copy": "hlsd.publish.transfer.copy:CopyTransfer",
    "ftp": "hlsd.publish.transfer.ftp:FtpTransfer",
    "scp": "hlsd.publish.transfer.sftp:SftpTransfer",
    "sftp": "hlsd.publish.transfer.sftp:SftpTransfer",
    "s3": "hlsd.publish.transfer.s3:S3Transfer",
}


def create(profile: TransferProfile) -> Transfer:
    module_name, class_name = BACKENDS[profile.transfer_type].split(":")
    cls = getattr(import_module(module_name), class_name)
    transfer: Transfer = cls(profile)
    return transfer
