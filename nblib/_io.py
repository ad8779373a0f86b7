"""Writing a file so that a reader (or a process killed mid-write) never sees half of it."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

FILE_MODE = 0o644   # ordinary readable files (mkstemp would make them 0600)


def atomic_write(path, write) -> Path:
    """Call ``write(tmp_path)`` on a fresh temp file in ``path``'s folder, flush it to disk, then
    rename it onto ``path`` (``os.replace``: atomic on POSIX and Windows).

    Readers see either the old file or the complete new one; a write that fails (or a process
    killed at any instant) leaves no partial file under ``path`` and no temp file behind, except a
    killed process's temp file, named ``.<name>.<random>.tmp`` so it can be found and removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:40]}.", suffix=".tmp")
    os.close(fd)
    try:
        os.chmod(tmp, FILE_MODE)
        write(Path(tmp))
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
