"""Conditional writes of ledger records: create only if absent, replace only the version read.

The same protocol as the worker's (src/activities/backends.ts `writeTextIf`; docs/design.md,
"Conditional ledger writes"), so a Spark job and a TypeScript worker exclude each other:

- S3: `PutObject` with `If-None-Match: *` (create) or `If-Match: <etag>` (replace), through boto3:
  Hadoop's FileSystem API has no conditional PUT. A job without a boto3 that can send them refuses
  to write the ledger on S3 (docs/aws.md).
- Local: a compare-and-swap under a lock file `<dir>/.<name>.lock` taken with O_CREAT|O_EXCL, holding
  `{"pid", "start", "host"}`; a lock whose process is gone (or whose pid was reused) is broken.
  The etag is the md5 hex of the file's bytes, what S3 gives for a single-part PUT.

A failed condition raises LedgerConflict: another writer got there first, and nothing was written.
"""
import hashlib
import json
import os
import socket
import time
from typing import Optional, Tuple

from .failures import ConditionalWritesUnavailable, LedgerConflict

# How long a live lock holder is waited for before the write gives up (a CAS holds it for milliseconds).
LOCK_WAIT_SECONDS = 10.0
_POLL_SECONDS = 0.005
_S3_SCHEMES = ("s3://", "s3a://", "s3n://")


def etag_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def read_text_with_etag(uri: str) -> Optional[Tuple[str, str]]:
    """(text, etag) of the record, or None when there is none."""
    if uri.startswith("file://"):
        try:
            with open(uri[len("file://"):], "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        return data.decode("utf-8"), etag_of(data)
    if uri.startswith(_S3_SCHEMES):
        return _s3_read(uri)
    raise ValueError(f"conditional ledger writes need a file:// or s3:// lake, not {uri}")


def write_text_if(uri: str, text: str, if_match: Optional[str] = None, if_none_match: bool = False) -> str:
    """Write the record if the condition holds (exactly one of `if_match`, `if_none_match`); the new etag."""
    if (if_match is not None) == if_none_match:
        raise ValueError("write_text_if takes exactly one condition: if_match=<etag> or if_none_match=True")
    data = text.encode("utf-8")
    if uri.startswith("file://"):
        return _local_write_if(uri, data, if_match)
    if uri.startswith(_S3_SCHEMES):
        return _s3_write_if(uri, data, if_match)
    raise ValueError(f"conditional ledger writes need a file:// or s3:// lake, not {uri}")


# --- local: compare-and-swap under a lock file ---

def _local_write_if(uri: str, data: bytes, expected: Optional[str]) -> str:
    path = uri[len("file://"):]
    folder, name = os.path.split(path)
    os.makedirs(folder, exist_ok=True)
    lock = os.path.join(folder, f".{name}.lock")
    _acquire(lock, uri, expected)
    try:
        found = _local_etag(path)
        if found != expected:
            raise LedgerConflict(uri, expected, found)
        tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    finally:
        _remove(lock)
    return etag_of(data)


def _local_etag(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as f:
            return etag_of(f.read())
    except FileNotFoundError:
        return None


def process_start(pid: int) -> Optional[int]:
    """The process's start time (field 22 of /proc/<pid>/stat, clock ticks after boot); None when not running."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    return int(stat[stat.rindex(")") + 2:].split()[19])


def _owner() -> dict:
    return {"pid": os.getpid(), "start": process_start(os.getpid()), "host": socket.gethostname()}


def _acquire(lock: str, uri: str, expected: Optional[str]) -> None:
    """Take the lock, breaking a stale one; after LOCK_WAIT_SECONDS of a live holder, LedgerConflict."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read_lock(lock)
            if _is_stale(lock, holder):
                _break(lock, holder)
                continue
            if time.monotonic() > deadline:
                pid = holder.get("pid") if holder else "unknown"
                raise LedgerConflict(uri, expected, None, f"locked by pid {pid} for more than {LOCK_WAIT_SECONDS:g} s")
            time.sleep(_POLL_SECONDS)
            continue
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(_owner()))
        return


def _read_lock(lock: str) -> Optional[dict]:
    try:
        with open(lock) as f:
            return json.loads(f.read())
    except (FileNotFoundError, ValueError):
        return None  # gone, or being written by its taker


def _is_stale(lock: str, holder: Optional[dict]) -> bool:
    if holder is None:
        # Unreadable: a taker between create and write (live), unless it stays so for the whole wait.
        try:
            return time.time() - os.path.getmtime(lock) > LOCK_WAIT_SECONDS
        except FileNotFoundError:
            return False
    if holder.get("host") != socket.gethostname():
        return False  # another machine's process cannot be looked at: wait for it
    pid = int(holder.get("pid", -1))
    if not os.path.exists("/proc/self/stat"):  # no /proc (macOS): the pid alone says whether it runs
        return not _pid_runs(pid)
    start = process_start(pid)
    return start is None or start != holder.get("start")


def _pid_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return pid > 0


def _break(lock: str, holder: Optional[dict]) -> None:
    """Remove a stale lock; if another process replaced it meanwhile, put that one back."""
    aside = f"{lock}.{os.getpid()}.stale"
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return
    if _read_lock(aside) != holder:
        try:
            os.link(aside, lock)
        except FileExistsError:
            pass
    _remove(aside)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# --- S3: conditional PutObject ---

S3_GAP = ("conditional ledger writes on S3 need boto3 whose PutObject takes IfMatch and IfNoneMatch (botocore "
          "from late 2024 on) in the job's Python; EMR Serverless images do not promise one (docs/aws.md, "
          "'Conditional ledger writes'): the job refuses to use the ledger rather than overwrite it")


def _s3_client(uri: str):
    try:
        import boto3
    except ImportError:
        raise ConditionalWritesUnavailable(uri, S3_GAP) from None
    client = boto3.client("s3", region_name=os.environ.get("AWS_REGION") or None)
    members = client.meta.service_model.operation_model("PutObject").input_shape.members
    if "IfMatch" not in members or "IfNoneMatch" not in members:
        raise ConditionalWritesUnavailable(uri, S3_GAP)
    return client


def _bucket_key(uri: str) -> Tuple[str, str]:
    bucket, _, key = uri.split("://", 1)[1].partition("/")
    return bucket, key


def _s3_read(uri: str) -> Optional[Tuple[str, str]]:
    client, (bucket, key) = _s3_client(uri), _bucket_key(uri)
    try:
        got = client.get_object(Bucket=bucket, Key=key)
    except client.exceptions.NoSuchKey:
        return None
    return got["Body"].read().decode("utf-8"), got["ETag"].strip('"')


def _s3_write_if(uri: str, data: bytes, expected: Optional[str]) -> str:
    from botocore.exceptions import ClientError

    client, (bucket, key) = _s3_client(uri), _bucket_key(uri)
    condition = {"IfMatch": f'"{expected}"'} if expected else {"IfNoneMatch": "*"}
    try:
        put = client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/json", **condition)
    except ClientError as err:
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        # 412: the condition failed; 409: a concurrent conditional write won; 404: If-Match on a record now gone.
        if status in (409, 412) or (status == 404 and expected):
            raise LedgerConflict(uri, expected, _s3_etag(client, bucket, key)) from None
        raise
    return put["ETag"].strip('"')


def _s3_etag(client, bucket: str, key: str) -> Optional[str]:
    from botocore.exceptions import ClientError

    try:
        return client.head_object(Bucket=bucket, Key=key)["ETag"].strip('"')
    except ClientError:
        return None
