"""Bounds on the ZIP archives inside Office files, checked before any library opens them.

DOCX, PPTX and XLSX are ZIP archives, and a hostile one can inflate a few kilobytes into
gigabytes. The check reads only the central directory. It can trust the sizes declared there
because Python's ``zipfile`` (which python-docx, python-pptx and openpyxl all read through) never
returns more bytes for a member than its declared size.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

from chatforge.errors import ParseError

__all__ = ["ZipLimits", "check_zip"]

# Office encrypts a DOCX, XLSX or PPTX by wrapping it in an OLE2 container.
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class ZipLimits:
    """What an Office archive may hold.

    Attributes:
        max_total_bytes: The most its members may inflate to, together.
        max_members: The most members it may have.
        max_ratio: The highest compression ratio allowed for a large member, and for the
            archive as a whole once it inflates past ``ratio_floor_bytes``.
        ratio_floor_bytes: Members (and archives) smaller than this are not ratio-checked:
            small XML parts legitimately compress a hundredfold.
    """

    max_total_bytes: int = 100 * 1024 * 1024
    max_members: int = 10_000
    max_ratio: float = 100.0
    ratio_floor_bytes: int = 10 * 1024 * 1024


def check_zip(path: Path, limits: ZipLimits | None = None) -> None:
    """Refuse an Office archive that is damaged or would inflate beyond ``limits``.

    Raises:
        ParseError: The document is password-protected; or its archive is unreadable, has too
            many members, inflates too far, or has a member compressed suspiciously well (the
            mark of a zip bomb).
    """
    limits = limits or ZipLimits()
    with path.open("rb") as fh:
        if fh.read(8) == _OLE2_MAGIC:
            raise ParseError(
                "The Office document is password-protected. "
                "Remove the password and upload it again."
            )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ParseError(
            "The Office document is damaged (its ZIP structure cannot be read). "
            "Save it again and re-upload it."
        ) from exc
    refusal = "The Office document was refused because {}; it may be a zip bomb."
    if len(members) > limits.max_members:
        raise ParseError(
            refusal.format(f"it holds {len(members)} parts (at most {limits.max_members})")
        )
    total = sum(member.file_size for member in members)
    if total > limits.max_total_bytes:
        raise ParseError(
            refusal.format(
                f"it inflates to {total // 2**20} MB (at most {limits.max_total_bytes // 2**20} MB)"
            )
        )
    for member in members:
        if member.file_size < limits.ratio_floor_bytes:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.max_ratio:
            raise ParseError(
                refusal.format(f"its part {member.filename!r} is compressed {ratio:.0f} to 1")
            )
    # Many parts each just under the floor add up: the archive as a whole is checked too.
    packed = sum(member.compress_size for member in members)
    if total >= limits.ratio_floor_bytes and total / max(packed, 1) > limits.max_ratio:
        raise ParseError(
            refusal.format(
                f"it inflates to {total // 2**20} MB from {max(packed // 1024, 1)} KB, "
                f"{total / max(packed, 1):.0f} to 1"
            )
        )
