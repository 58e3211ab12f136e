"""Conditional writes of ledger records: create only if absent, replace only the version read.

The same protocol as the worker's (src/activities/backends.ts `writeTextIf`; docs/design.md,
"Conditional ledger writes"), so a Spark job and a TypeScript worker exclude each other:

- S3: `PutObject` with `If-None-Match: *` (create) or `If-Match: <etag>` (replace), through boto3:
  Hadoop's FileSystem API has no conditional PUT. A job without a boto3 that can send them refuses
  to write the ledger on S3 (docs/aws.md).
- Local: a compare-and-swap under the lock `<dir>/.<name>.lock` (the same protocol as
  src/activities/local/file-cas.ts). Acquire: write the owner `{"pid", "start", "host"}` to
  `<lock>.<pid>.<random>`, link() it to the lock (EEXIST: held), unlink the temporary, so a lock never
  exists without its owner. Release: unlink the lock only if it still holds the bytes this writer wrote.
  Stale: same host, and the pid is not running or runs with another start time (/proc field 22).
  Breaking: take the token `<lock>.break.<pid>.<start>` (keyed by the dead owner) the same way; under
  it, unlink the lock only if it still holds the dead owner's bytes. At most one holder: only a token
  holder removes a lock not its own and the token is exclusive; while the lock holds the dead owner's
  bytes nobody else can remove it (its owner is dead, other breakers need the token) nor create one, so
  the unlink never hits a live lock. A dead token owner's token is broken by the same rule.
  The etag is the md5 hex of the file's bytes, what S3 gives for a single-part PUT.

A failed condition raises LedgerConflict: another writer got there first, and nothing was written.
"""
import hashlib
import json
import os
import secrets
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
    mine = _acquire(lock, uri, expected)
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
        release_lock(lock, mine)
    return etag_of(data)


def _local_etag(path: str) -> Optional[str]:
    try:
        with open(path, "rb") as f:
            return etag_of(f.read())
    except FileNotFoundError:
        return None


def process_start(pid: int) -> Optional[int]:
    """The process's start time (field 22 of /proc/<pid>/stat, clock ticks after boot); None when unknown."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) is in parentheses and may hold spaces: count fields after it.
    return int(stat[stat.rindex(")") + 2:].split()[19])


def owner_bytes() -> bytes:
    owner = {"pid": os.getpid(), "start": process_start(os.getpid()), "host": socket.gethostname()}
    return json.dumps(owner, separators=(",", ":")).encode()


def _acquire(lock: str, uri: str, expected: Optional[str]) -> bytes:
    """Take the lock, breaking a stale one; after LOCK_WAIT_SECONDS of a live holder, LedgerConflict."""
    me = owner_bytes()
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        if try_lock(lock, me):
            return me
        holder = _read_bytes(lock)
        if holder is None:
            continue  # released meanwhile
        if is_stale(holder):
            break_stale(lock, holder, me)  # a breaker that finds the token held waits like anyone else
        if time.monotonic() > deadline:
            owner = _parse(holder) or {}
            raise LedgerConflict(uri, expected, None, f"locked by pid {owner.get('pid')} on {owner.get('host')}")
        time.sleep(_POLL_SECONDS)


def try_lock(name: str, owner: bytes) -> bool:
    """One attempt to take `name` holding `owner`: link() of a complete temporary file; False when held."""
    tmp = f"{name}.{os.getpid()}.{secrets.token_hex(6)}"
    with open(tmp, "wb") as out:
        out.write(owner)
        out.flush()
        os.fsync(out.fileno())  # after a crash the lock still names its owner (an unnamed one is never stale)
    try:
        os.link(tmp, name)
        return True
    except FileExistsError:
        return False
    finally:
        _remove(tmp)


def release_lock(name: str, owner: bytes) -> None:
    """Unlink `name` only while it holds `owner`'s bytes: a lock broken and retaken by another is left alone."""
    if _read_bytes(name) == owner:
        _remove(name)


def break_stale(name: str, stale: bytes, me: bytes) -> None:
    """Remove `name` if it still holds `stale` (a dead owner's bytes), under the token keyed by that owner."""
    dead = _parse(stale) or {}
    token = f"{name}.break.{dead.get('pid')}.{_js(dead.get('start'))}"
    if not try_lock(token, me):
        holder = _read_bytes(token)
        if holder is not None and is_stale(holder):
            break_stale(token, holder, me)
        return
    try:
        if _read_bytes(name) == stale:
            _remove(name)
    finally:
        release_lock(token, me)


def _js(value) -> str:
    """How TypeScript writes the start into a token name (`null` for none), so both name one token alike."""
    return "null" if value is None else str(value)


def is_stale(owner: bytes) -> bool:
    """Same host, and the pid is not running or runs with another start time (reused). Another host: never."""
    holder = _parse(owner)
    if holder is None or holder.get("host") != socket.gethostname():
        return False
    pid = holder["pid"]
    if not _pid_runs(pid):
        return True
    start = process_start(pid)
    return holder.get("start") is not None and start is not None and start != holder.get("start")


def _read_bytes(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _parse(owner: bytes) -> Optional[dict]:
    try:
        holder = json.loads(owner)
    except ValueError:
        return None
    return holder if isinstance(holder, dict) and isinstance(holder.get("pid"), int) else None


def _pid_runs(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it runs, as another user
    return pid > 0


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# --- S3: conditional PutObject ---

S3_GAP = ("conditional ledger writes on S3 need boto3 whose PutObject takes IfMatch and IfNoneMatch and whose "
          "DeleteObject takes IfMatch (botocore "
          "from late 2024 on) in the job's Python; EMR Serverless images do not promise one (docs/aws.md, "
          "'Conditional ledger writes'): the job refuses to use the ledger rather than overwrite it")


def _s3_client(uri: str):
    try:
        import boto3
    except ImportError:
        raise ConditionalWritesUnavailable(uri, S3_GAP) from None
    client = boto3.client("s3", region_name=os.environ.get("AWS_REGION") or None)
    put = client.meta.service_model.operation_model("PutObject").input_shape.members
    delete = client.meta.service_model.operation_model("DeleteObject").input_shape.members
    # Checked before any write: the day swap lock (day_lock.py) is released with a conditional delete.
    if "IfMatch" not in put or "IfNoneMatch" not in put or "IfMatch" not in delete:
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
    """A 412/409/404 is read back first: a PUT whose answer was lost is retried by botocore, and the retry
    meets this writer's own write; when the object holds exactly the bytes sent, the write succeeded."""
    from botocore.exceptions import ClientError

    client, (bucket, key) = _s3_client(uri), _bucket_key(uri)
    condition = {"IfMatch": f'"{expected}"'} if expected else {"IfNoneMatch": "*"}
    for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
        try:
            put = client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/json", **condition)
            return put["ETag"].strip('"')
        except ClientError as err:
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            # 412: the condition failed; 409: a concurrent conditional write; 404: If-Match on a record now gone.
            if not (status in (409, 412) or (status == 404 and expected)):
                raise
        now = _s3_read_bytes(client, bucket, key)
        if now is not None and now[0] == data:
            return now[1]
        # 409: another conditional write was in flight; its outcome decides, so ask again a few times.
        if status != 409 or attempt == _CONFLICT_ATTEMPTS:
            raise LedgerConflict(uri, expected, now[1] if now else None) from None
        time.sleep(0.05 * 2 ** attempt)
    raise AssertionError("unreachable")


# Attempts of a conditional PUT answered 409 (a concurrent conditional write): 100, 200, 400 ms apart.
_CONFLICT_ATTEMPTS = 4


def _s3_read_bytes(client, bucket: str, key: str) -> Optional[Tuple[bytes, str]]:
    try:
        got = client.get_object(Bucket=bucket, Key=key)
    except client.exceptions.NoSuchKey:
        return None
    return got["Body"].read(), got["ETag"].strip('"')
