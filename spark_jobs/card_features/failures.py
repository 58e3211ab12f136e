"""Failures the job can name instead of passing on a Java stack trace.

Three kinds, each written as a JSON error record (to `--error-path`, next to the manifest) for the
orchestrator, and printed on stderr as one `card_features error:` line:

- BadInput: bronze files Spark cannot read (truncated or non-gzip `.gz`). Rerunning cannot fix them.
  Which files are bad is found only after the bulk read failed, so a good read costs nothing extra.
- StorageError: the lake refuses a read or write (permission, read-only, a file where a directory
  is needed, no space), with the path and the cause in plain words.
- OutOfMemory: a JVM ran out of memory, or an executor was killed for its memory; the orchestrator
  runs the chunk again a rung higher on its memory ladder (src/activities/spark/memory-ladder.ts).
- LedgerConflict: a conditional ledger write failed (conditional.py): another writer changed the
  record since this job read it. Not retried blindly: the orchestrator decides again from the ledger.
- SwapLockTimeout: another writer held a silver or quarantine day's swap lock (day_lock.py) for longer
  than the job waits; nothing of the day was swapped. Reported as a retryable StorageError.
- SwapLockLost: this writer's swap lock expired and another writer took it over before the swap's
  rename; the job stops instead of writing over the new holder. Reported as a retryable StorageError.
"""
import argparse
import errno
import fcntl
import json
import os
import re
import struct
import sys
from typing import Callable, Dict, List, Optional, Sequence, Tuple

# Java read errors that mean the file's bytes are bad (not a flaky connection), with what to tell a
# person and whether to quote the Java words after it (when they say more than our sentence).
TRUNCATED = "the gzip data ends early: the file is truncated (an upload cut short?)"
NOT_GZIP = "the file is not gzip data, although its name ends in .gz"
_READ_ERRORS: List[Tuple[str, str, bool]] = [
    (r"java\.io\.EOFException: Unexpected end of input stream", TRUNCATED, False),
    (r"not a gzip file|Not in GZIP format", NOT_GZIP, False),
    (r"incorrect header check|invalid block type|invalid distance|invalid stored block lengths|"
     r"invalid code lengths|Corrupt GZIP trailer|java\.util\.zip\.ZipException[^\n]*",
     "the gzip data is corrupt", True),
]

# (pattern, plain cause, retryable). Permission and read-only need an operator: not retried.
# No space is retried: on EMR a new attempt gets new workers and fresh disks, and locally an
# operator may free space while the attempts back off; after the last attempt it fails anyway.
_STORAGE_ERRORS: List[Tuple[str, str, bool]] = [
    (r"Read-only file system", "the file system is read-only", False),
    (r"No space left on device", "no space left on the device", True),
    (r"Status Code: 403|403 Forbidden|AccessDenied|Access Denied",
     "access denied by S3 (403): the job's role may not use this path", False),
    (r"java\.nio\.file\.AccessDeniedException|Permission denied",
     "permission denied: this user may not write or read here", False),
    (r"ParentNotDirectoryException|Parent path is not a directory|Not a directory",
     "a file is in the way where a directory is needed", False),
]

# The same signatures the orchestrator looks for in EMR's state details (src/activities/spark/memory-ladder.ts).
_OOM_SIGNATURES = [
    r"java\.lang\.OutOfMemoryError[^\n;]*",
    r"Container killed by YARN for exceeding (?:physical |virtual )?memory limits[^\n;]*",
    r"ExecutorLostFailure[^\n;]*(?:memory|OOM|137)[^\n;]*",
]

_URI = r"(?:s3a?|s3n|file):/[^\s:;,'\"()]*[^\s:;,'\"().]"
ERROR_LINE_PREFIX = "card_features error: "


class LedgerConflict(Exception):
    """A ledger record was not what this writer read (or is locked by a live writer): nothing written."""

    def __init__(self, path: str, expected: Optional[str], found: Optional[str], reason: str = ""):
        self.path, self.expected, self.found = path, expected, found
        self.reason = reason or (f"expected {'etag ' + expected if expected else 'no record'}, "
                                 f"found {'etag ' + found if found else 'no record'}: another writer got there first")
        super().__init__(f"ledger record {path}: {self.reason}")

    def record(self) -> Dict:
        return {"type": "LedgerConflict", "path": normalize_uri(self.path), "expected": self.expected,
                "found": self.found, "reason": self.reason}


class ConditionalWritesUnavailable(RuntimeError):
    """The lake cannot take a conditional write from this job (S3 without a capable boto3): refused, not retried."""

    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")

    def record(self) -> Dict:
        return {"type": "StorageError", "path": normalize_uri(self.path), "reason": self.reason, "retryable": False}


class SwapLockTimeout(RuntimeError):
    """A day's swap lock (day_lock.py) stayed held by another writer for longer than the job waits: the job
    stops instead of swapping the day without it. Retryable: the holder ends, or its lock expires."""

    def __init__(self, path: str, holder: str, waited_seconds: float):
        self.path, self.holder = path, holder
        self.reason = f"the day's swap lock is still held by {holder} after {waited_seconds:g} s: nothing swapped"
        super().__init__(f"{path}: {self.reason}")

    def record(self) -> Dict:
        return {"type": "StorageError", "path": normalize_uri(self.path), "reason": self.reason, "retryable": True}


class SwapLockLost(RuntimeError):
    """This writer's swap lock (day_lock.py) was taken over by another writer (it had expired) while the
    day was swapped: the job stops before the rename rather than write over the new holder's swap.
    Retryable: the next attempt swaps the day again under a lock of its own."""

    def __init__(self, path: str, holder: str):
        self.path, self.holder = path, holder
        self.reason = f"the day's swap lock was taken over by {holder} during the swap: this writer's day not renamed in"
        super().__init__(f"{path}: {self.reason}")

    def record(self) -> Dict:
        return {"type": "StorageError", "path": normalize_uri(self.path), "reason": self.reason, "retryable": True}


def split_error_path(argv: Sequence[str]) -> Tuple[Optional[str], List[str]]:
    """Takes `--error-path URI` out of the job's arguments: (the URI or None, the other arguments)."""
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--error-path", default=None,
                   help="where to write a JSON error record when the job fails for a reason it can name")
    known, rest = p.parse_known_args(list(argv))
    return known.error_path, rest


def exception_text(exc: BaseException) -> str:
    """Everything an exception says, Java causes included (Py4J's str() carries the Java stack trace)."""
    parts, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        parts.append(f"{type(exc).__name__}: {exc}")
        parts.append(str(getattr(exc, "_stackTrace", "") or ""))  # pyspark's converted exceptions
        # Only explicit causes: an error raised while handling another (__context__) would drag the
        # other's text along, e.g. the bulk read's error into a single file's read.
        exc = exc.__cause__
    return "\n".join(parts)


def read_error_reason(text: str) -> Optional[str]:
    """Plain words for a Java error that means a file's content cannot be decoded, else None."""
    for pattern, reason, quote in _READ_ERRORS:
        m = re.search(pattern, text)
        if m:
            return f"{reason} ({m.group(0).strip()})" if quote else reason
    return None


def normalize_uri(uri: str) -> str:
    """Hadoop writes local paths as file:/x; the orchestrator's lake uses file:///x."""
    if uri.startswith("file:") and not uri.startswith("file:///"):
        return "file:///" + uri[len("file:"):].lstrip("/")
    return uri


def storage_error(exc: BaseException) -> Optional[Dict]:
    """A StorageError record when the failure is the lake refusing a read or write, else None."""
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC):
        return {"type": "StorageError", "path": exc.filename or "", "reason": os.strerror(exc.errno),
                "retryable": exc.errno == errno.ENOSPC}
    text = exception_text(exc)
    mkdirs = re.search(r"Mkdirs failed to create (" + _URI + r"|/\S+)", text)
    for pattern, reason, retryable in _STORAGE_ERRORS:
        m = re.search(pattern, text)
        if m:
            path = _path_near(text, m.start()) or (mkdirs.group(1) if mkdirs else "")
            return {"type": "StorageError", "path": normalize_uri(path), "reason": reason, "retryable": retryable}
    if mkdirs:
        # Hadoop's local file system says only "Mkdirs failed": look at the directory to say why.
        path = mkdirs.group(1)
        reason, retryable = diagnose_local_dir(path)
        return {"type": "StorageError", "path": normalize_uri(path), "reason": reason, "retryable": retryable}
    return None


def _path_near(text: str, at: int) -> Optional[str]:
    """The lake URI the error is about: on the matching line, else the nearest one before it."""
    uris = list(re.finditer(_URI, text))
    line_start, line_end = text.rfind("\n", 0, at) + 1, text.find("\n", at)
    line_end = len(text) if line_end < 0 else line_end
    on_line = [m for m in uris if line_start <= m.start() < line_end]
    before = [m for m in uris if m.start() < at]
    pick = (on_line or before[-1:] or [None])[0]
    if pick:
        return pick.group(0)
    # java.io names a local file as "/x/y (Read-only file system)".
    local = re.search(r"(/[^\s:]+) \(", text[line_start:line_end])
    return "file:" + local.group(1) if local else None


def diagnose_local_dir(path: str) -> Tuple[str, bool]:
    """Why a directory could not be created under a local path: (plain cause, retryable)."""
    if not path.startswith(("file:", "/")):
        return "the directory could not be created", False
    probe = re.sub(r"^file:/*", "/", path)
    while probe and not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    if os.path.isfile(probe):
        return f"a file is in the way where a directory is needed: {normalize_uri('file:' + probe)} is a file", False
    try:
        if os.statvfs(probe).f_flag & os.ST_RDONLY:
            return "the file system is read-only", False
    except OSError:
        pass
    if not os.access(probe, os.W_OK):
        return f"permission denied: the directory {normalize_uri('file:' + probe)} is read-only for this user", False
    try:
        immutable = _is_immutable(probe)
    except OSError:
        immutable = False
    if immutable:
        return f"the directory {normalize_uri('file:' + probe)} is read-only (immutable attribute)", False
    return "the directory could not be created (the file system gave no reason)", False


def _is_immutable(path: str) -> bool:
    """Linux's immutable flag (chattr +i), which refuses writes even to root."""
    fs_ioc_getflags, fs_immutable_fl = 0x80086601, 0x10
    fd = os.open(path, os.O_RDONLY)
    try:
        flags = struct.unpack("l", fcntl.ioctl(fd, fs_ioc_getflags, struct.pack("l", 0)))[0]
    finally:
        os.close(fd)
    return bool(flags & fs_immutable_fl)


def find_unreadable_files(groups: Dict[str, List[str]], read_error: Callable[[List[str]], Optional[str]]) -> List[Dict]:
    """Bronze files that cannot be read, each with its dt and the reason, by bisecting each dt's files.

    `groups` maps dt -> file URIs; `read_error(files)` reads the files together and returns the Java
    error text, or None when they read. A group that reads is done; one that fails is split, so one
    bad file among n costs about 2*log2(n) reads. An error that is not about the bytes (a network
    fault, say) is raised, so it is not taken for bad data.
    """
    bad: List[Dict] = []

    def visit(dt_value: str, files: List[str]) -> None:
        text = read_error(files)
        if text is None:
            return
        reason = read_error_reason(text)
        if reason is None:
            raise RuntimeError(f"reading bronze of dt={dt_value} failed for a reason other than its data:\n{text}")
        if len(files) == 1:
            bad.append({"uri": normalize_uri(files[0]), "dt": dt_value, "reason": reason})
            return
        half = len(files) // 2
        visit(dt_value, files[:half])
        visit(dt_value, files[half:])

    for dt_value, files in sorted(groups.items()):
        if files:
            visit(dt_value, sorted(files))
    return bad


def out_of_memory_signature(text: str) -> Optional[str]:
    """The words of a failure that say out of memory, or None."""
    for pattern in _OOM_SIGNATURES:
        m = re.search(pattern, text, re.IGNORECASE)
        if m:
            return m.group(0).strip()[:300]
    return None


def bad_input_record(files: List[Dict]) -> Dict:
    return {"type": "BadInput", "files": files}


def message(record: Dict) -> str:
    """The record in one line of plain words (the same wording the orchestrator uses)."""
    if record["type"] == "BadInput":
        return "; ".join(f"bronze file {f['uri']} (dt={f['dt']}) cannot be read: {f['reason']}" for f in record["files"])
    if record["type"] == "OutOfMemory":
        return f"out of memory: {record['signature']}"
    if record["type"] == "LedgerConflict":
        return f"ledger conflict at {record['path']}: {record['reason']}"
    return f"storage error at {record['path'] or 'an unknown path'}: {record['reason']}"


def report(write_text: Callable[[str, str], None], error_path: Optional[str], record: Dict) -> None:
    """Prints the record on stderr and writes it to `error_path` (when given) for the orchestrator."""
    print(ERROR_LINE_PREFIX + message(record), file=sys.stderr, flush=True)
    if error_path:
        write_text(error_path, json.dumps(record, indent=2, sort_keys=True))


# --- The Spark side: only used after a run failed, so the happy path pays nothing for it. ---

def describe(spark, cfg, exc: BaseException) -> Optional[Dict]:
    """The error record for a failed run, or None when the failure is not one this module can name.

    A read failure is traced to its files over every bronze partition the run reads (its days, the
    lookback before and the lateness after), so a corrupt file is named whichever chunk met it.
    """
    if isinstance(exc, (LedgerConflict, ConditionalWritesUnavailable, SwapLockTimeout, SwapLockLost)):
        return exc.record()
    text = exception_text(exc)
    oom = out_of_memory_signature(text)
    if oom is not None:
        return {"type": "OutOfMemory", "signature": oom}
    if read_error_reason(text) is not None:
        from .definitions import get_definition
        from .transform import bronze_dates_to_read

        lookback = get_definition(cfg.feature_version).lookback_seconds
        dates = bronze_dates_to_read(cfg.start, cfg.end, lookback, cfg.lateness_days)
        groups = {d.isoformat(): list_data_files(spark, f"{cfg.bronze_table}/dt={d.isoformat()}") for d in dates}
        try:
            bad = find_unreadable_files(groups, lambda files: _read_error(spark, files))
        except Exception as err:  # noqa: BLE001 - the original failure is the one to report
            print(f"{ERROR_LINE_PREFIX}could not trace the read failure to a file: {err}", file=sys.stderr)
            return None
        for f in bad:
            # A file shorter than a gzip header ends early too: its first bytes tell which it is.
            if f["reason"] == TRUNCATED and not _head(spark, f["uri"], 2).startswith(b"\x1f\x8b"):
                f["reason"] = NOT_GZIP
        return bad_input_record(bad) if bad else None
    return storage_error(exc)


def list_data_files(spark, path: str) -> List[str]:
    """Data files directly in a directory (not hidden: `_x`, `.x`), as Spark's file listing sees them."""
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(path)
    fs = p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(p):
        return []
    return sorted(
        s.getPath().toString() for s in fs.listStatus(p)
        if s.isFile() and not s.getPath().getName().startswith(("_", "."))
    )


def _head(spark, uri: str, n: int) -> bytes:
    """The first `n` bytes of a file (fewer when it is shorter), through Hadoop's FileSystem."""
    jvm = spark.sparkContext._jvm
    p = jvm.org.apache.hadoop.fs.Path(uri)
    fs = p.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    size = min(n, fs.getFileStatus(p).getLen())
    stream = fs.open(p)
    try:
        return bytes(jvm.org.apache.commons.io.IOUtils.toByteArray(stream, size))
    finally:
        stream.close()


def _read_error(spark, files: List[str]) -> Optional[str]:
    """Reads the files as the job does (text, every line decoded); the error text, or None."""
    try:
        spark.read.text(files).count()
        return None
    except Exception as err:  # noqa: BLE001 - any failure is classified by the caller
        return exception_text(err)
