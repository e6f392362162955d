"""Small pieces every stage shares: the user-facing error, atomic writes, file hashes, file
descriptor redirection, the artifacts folder; and what every command that writes goes through
(``check_output``, ``safe_write``/``replace_files``, ``folder_lock``, ``keep_owner``), and
``run_with_stack`` for calls that recurse deeply (TensorRT's build of a deep graph)."""
from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator


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
    try:
        import stat as _stat

        mode = os.lstat(path).st_mode
        if not (_stat.S_ISREG(mode) or _stat.S_ISLNK(mode)):  # a device node must never become a file
            raise UserError(f"{path} exists and is not a regular file (a device, pipe or socket): not replaced")
    except OSError:
        pass
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


# --- outputs that are safe to write ----------------------------------------------------------
# What every command that writes goes through: the target must be a regular file or nothing
# (never a device, FIFO, socket or a symbolic link), never a file the command reads nor one of
# the project's own sources; the write is temp-then-rename under an advisory lock on the folder,
# and a replaced file keeps its owner and mode.

_PROJECT_SOURCES = ("notebooks", "trtlab", "tests", "data", "scripts", "binder")


def _same_or_inside(path: Path, other: Path) -> bool:
    """``path`` is ``other`` (same file, through any link) or lies inside the folder ``other``."""
    try:
        if os.path.samefile(path, other):
            return True
    except OSError:
        pass
    try:
        rp, ro = path.resolve(), other.resolve()
    except (OSError, RuntimeError):
        return False
    return rp == ro or (other.is_dir() and ro in rp.parents)


def check_output(path: str | os.PathLike, inputs: tuple[str | os.PathLike, ...] | list = (),
                 what: str = "output") -> Path:
    """Refuse ``path`` as an output (UserError, one line) unless writing it is safe.

    Refused: an existing path that is not a regular file (folder, device, FIFO, socket), a
    symbolic link (whatever it points to: trtlab never writes through a link it did not make),
    any of ``inputs`` (files the command reads, or a file inside an input folder), and the
    project's own sources (``notebooks/``, ``trtlab/`` … of this checkout). Returns the path.
    Nothing is created.
    """
    path = Path(path)
    try:
        st = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):  # a part that is a file: output_folder says so
        st = None
    except OSError as exc:
        raise UserError(f"{what} {path}: cannot use it ({exc.strerror or exc})") from None
    if st is not None:
        import stat as _stat

        if _stat.S_ISLNK(st.st_mode):
            raise UserError(f"{what} {path} is a symbolic link: trtlab does not write through links; "
                            "give the real path or another name")
        if _stat.S_ISDIR(st.st_mode):
            raise UserError(f"{what} {path} is a folder: give the name of the file to write in it")
        if not _stat.S_ISREG(st.st_mode):
            raise UserError(f"{what} {path} exists and is not a regular file (a device, pipe or socket): "
                            "not replaced")
    for src in inputs:
        if src is not None and _same_or_inside(path, Path(src)):
            raise UserError(f"{what} {path} would overwrite {src}, which this command reads: give another name")
    root = repo_root()
    for name in _PROJECT_SOURCES:
        if _same_or_inside(path, root / name):
            raise UserError(f"{what} {path} is inside the project's sources ({root / name}): "
                            "write it somewhere else")
    return path


_LOCKED: set[str] = set()


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike) -> Iterator[None]:
    """Hold an advisory lock (``fcntl.flock``, exclusive) on ``folder`` for a while.

    Every trtlab write takes it on the folder it writes into, so two trtlab processes never
    interleave their reads-then-writes of the same files (two ``migrate --fix``, two builds
    to one engine). Where locks are not supported it locks nothing.
    """
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield
        return
    try:
        key = os.path.realpath(folder)
        if key in _LOCKED:  # this process holds it already (a lock inside a lock): flock would wait forever
            yield
            return
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError:
            pass
        _LOCKED.add(key)
        yield
    finally:
        _LOCKED.discard(key)
        os.close(fd)  # releases the lock


def keep_owner(tmp: str | os.PathLike, like: str | os.PathLike) -> None:
    """Give ``tmp`` the owner, group and mode of the existing file ``like`` (as far as allowed)."""
    try:
        st = os.stat(like)
    except OSError:
        return
    if hasattr(os, "chown"):
        try:
            os.chown(tmp, st.st_uid, st.st_gid)
        except OSError:  # not root: the file becomes ours, as with any editor
            pass
    os.chmod(tmp, st.st_mode & 0o7777)


def replace_files(pairs: list[tuple[str | os.PathLike, bytes]], inputs: tuple = (),
                  what: str = "output") -> list[Path]:
    """Write several files as one unit: check each target (:func:`check_output`), write every one
    to a temporary file, then, under the folder's lock, rename them in order. A replaced file
    keeps its owner and mode. UserError (one line) on any failure; temporary files are removed."""
    paths = [check_output(p, inputs, what) for p, _ in pairs]
    folders = {p.parent for p in paths}
    for folder in folders:
        output_folder(folder)
    tmps: list[Path] = []
    done = 0
    try:
        for p, (_, data) in zip(paths, pairs):
            tmps.append(write_temp(p, data))
        with contextlib.ExitStack() as stack:
            for folder in sorted(folders):
                stack.enter_context(folder_lock(folder))
            for p, tmp in zip(paths, tmps):
                check_output(p, inputs, what)  # again, under the lock: it may have changed
                keep_owner(tmp, p)
                os.replace(tmp, p)
                done += 1
    except BaseException as exc:
        for tmp in tmps[done:]:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            after = ("any previous file there is unchanged" if done == 0 else
                     f"{done} of {len(paths)} files were replaced; write them again")
            raise UserError(f"{paths[min(done, len(paths) - 1)]}: cannot write it "
                            f"({exc.strerror or exc}); {after}") from None
        raise
    for folder in folders:  # make the renames durable
        fsync_folder(folder)
    return paths


def fsync_folder(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename into it) to disk; a filesystem that cannot is no error."""
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def safe_write(path: str | os.PathLike, data: bytes, inputs: tuple = (), what: str = "output") -> Path:
    """:func:`atomic_write` for a command's output: refuses unsafe targets (:func:`check_output`),
    locks the folder, keeps the owner and mode of a file it replaces."""
    return replace_files([(path, data)], inputs, what)[0]


def run_with_stack(fn: Any, *args: Any, stack_mib: int = 512, **kwargs: Any) -> Any:
    """Call ``fn`` on a thread with a ``stack_mib`` MiB stack and return (or raise) what it does.

    Deep graphs (thousands of chained layers) make TensorRT recurse deeper than the 8 MiB main
    thread allows: a segmentation fault with no message. A large thread stack contains it.
    """
    import threading

    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    old = threading.stack_size()
    try:
        threading.stack_size(stack_mib << 20)
    except (ValueError, RuntimeError):  # the platform refuses: run here
        return fn(*args, **kwargs)
    try:
        t = threading.Thread(target=target, name="trtlab-big-stack", daemon=True)
        t.start()
    finally:
        threading.stack_size(old)
    while t.is_alive():
        t.join(0.2)  # a timed join lets Ctrl-C reach the main thread
    if "error" in box:
        raise box["error"]
    return box.get("value")
