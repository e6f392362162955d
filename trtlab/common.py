"""Small pieces every stage shares: the user-facing error, atomic writes, file hashes, file
descriptor redirection, the artifacts folder."""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Iterator


class UserError(Exception):
    """A mistake the user can fix (missing file, corrupt engine, wrong shape, unusable GPU).

    The command line prints its message as one line and exits non-zero, without a traceback.
    """

    exit_code = 2


def output_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and its parents) to write an output into.

    UserError with the reason when it cannot be: a part of the path is a file
    (``-o notes.txt/model.onnx``), or the folder cannot be created (permissions, read-only).
    """
    folder = Path(folder)
    for part in (folder, *folder.parents):
        if part.exists():
            if not part.is_dir():
                but = "" if part == folder else f": cannot create {folder}"
                raise UserError(f"{part} is a file, not a folder{but}")
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{folder}: cannot create the folder ({exc.strerror or exc})") from None
    return folder


def new_file_mode(path: str | os.PathLike) -> int:
    """The permissions a file written at ``path`` should get: those of the file it replaces, else
    what ``open()`` would give under the current umask (typically 0644)."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        pass
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            umask = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError, IndexError):
        umask = os.umask(0o022)  # read it by setting it, then put it back
        os.umask(umask)
    return 0o666 & ~umask


def write_temp(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to a new temporary file beside ``path``, with the permissions ``path``
    should have, fsynced; the caller renames it over ``path`` (or removes it)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, new_file_mode(path))  # mkstemp makes it 0600; a plain open() would not
        with os.fdopen(fd, "wb") as f:
            view = memoryview(data)
            for start in range(0, len(view), 1 << 20):
                f.write(view[start:start + (1 << 20)])
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp)


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A reader sees either the old file or the new one, never half of the new one: an
    interrupted write leaves the previous file intact. A path that cannot be written (a
    folder, a folder that cannot be made, no permission, disk full) raises UserError with the
    reason, and leaves no temporary file behind.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{path} is a folder: give the name of the file to write in it")
    output_folder(path.parent)
    tmp: Path | None = None
    try:
        tmp = write_temp(path, data)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise UserError(f"{path}: cannot write it ({exc.strerror or exc}); "
                            "any previous file there is unchanged") from None
        raise
    return path


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def fds_to(file: IO[bytes], fds: tuple[int, ...] = (1, 2)) -> Iterator[bool]:
    """Point file descriptors ``fds`` at ``file`` for a while, then put them back.

    What C/C++ code writes there (TensorRT's logger, TensorFlow's start-up lines) and what
    child processes inherit (a papermill kernel) lands in ``file``; ``sys.stdout``/``sys.stderr``
    are flushed on both sides. Yields False, redirecting nothing, where the descriptors do not
    exist (an embedded interpreter).
    """
    def flush() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass

    flush()
    try:
        saved = [os.dup(fd) for fd in fds]
    except OSError:
        yield False
        return
    try:
        for fd in fds:
            os.dup2(file.fileno(), fd)
        yield True
    finally:
        flush()
        for fd, old in zip(fds, saved):
            os.dup2(old, fd)
            os.close(old)


def artifacts_dir() -> Path:
    """The folder notebooks share their outputs through: ``$TRTLAB_ARTIFACTS`` or ``./artifacts``."""
    path = Path(os.environ.get("TRTLAB_ARTIFACTS", "artifacts")).resolve()
    try:
        return output_folder(path)
    except UserError as exc:
        raise UserError(f"artifacts folder{' (TRTLAB_ARTIFACTS)' if 'TRTLAB_ARTIFACTS' in os.environ else ''}: "
                        f"{exc}") from None


def repo_root() -> Path:
    """The checkout this package was installed from (editable install)."""
    return Path(__file__).resolve().parent.parent
