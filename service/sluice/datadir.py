"""The data directory is private: only the account Sluice runs as may read what it holds.

Events, customers' emails and the token-signing secret live there. Every process sets a umask
of 077 at start, so whatever it creates is 0700 (directories) or 0600 (files); a data directory
made by an older version, or by hand with looser modes, is tightened when the server starts.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
_GROUP_OR_OTHER = stat.S_IRWXG | stat.S_IRWXO


def private_by_default() -> None:
    """Files and directories this process creates are its owner's only."""
    os.umask(PRIVATE_UMASK)


def prepare(data_dir: Path) -> list[Path]:
    """Create the data directory (0700) or tighten it and the files directly in it to their
    owner; returns the paths whose modes were changed."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    tightened = []
    for path in (data_dir, *data_dir.iterdir()):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or not mode & _GROUP_OR_OTHER:
            continue
        os.chmod(path, stat.S_IMODE(mode) & ~_GROUP_OR_OTHER)
        tightened.append(path)
    return tightened
