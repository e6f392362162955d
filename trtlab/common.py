"""Small pieces every stage shares: the user-facing error, atomic writes, the artifacts folder."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


class UserError(Exception):
    """A mistake the user can fix (missing file, corrupt engine, wrong shape, unusable GPU).

    The command line prints its message as one line and exits non-zero, without a traceback.
    """

    exit_code = 2


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A reader sees either the old file or the new one, never half of the new one: an
    interrupted write leaves the previous file intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def artifacts_dir() -> Path:
    """The folder notebooks share their outputs through: ``$TRTLAB_ARTIFACTS`` or ``./artifacts``."""
    path = Path(os.environ.get("TRTLAB_ARTIFACTS", "artifacts")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def repo_root() -> Path:
    """The checkout this package was installed from (editable install)."""
    return Path(__file__).resolve().parent.parent
