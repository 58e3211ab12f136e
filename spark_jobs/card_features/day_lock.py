"""The lock a writer holds while it swaps one day of a table every writer of the lake shares (lake_swap.py).

One lock per (table, day), `<table>/_locks/dt=D.lock` (contract path `swap_lock`), held only for the
seconds of the swap (a delete and a rename), never during the compute.

- Local: the lock-file protocol of conditional.py (link() of a complete file naming its owner; stale
  when the owner, on this host, is dead or its pid reused; broken under a token), the owner being
  `{"pid", "start", "host", "attempt", "run_id"}`: the attempt tells two jobs of one process apart.
- S3: a lock object created by a conditional PUT (`If-None-Match: *`, the boto3 path conditional.py
  uses for the ledger) naming its holder, its `ttl_seconds` and `expires_at`. Another writer takes it
  over only once it has expired, `ttl_seconds` after its `LastModified` by S3's clock (the `Date` of the
  answer, so the writers' clocks do not matter), with a PUT `If-Match` the expired object's ETag: of two
  takers one wins. Before each step that could meet a new holder (the rename after the delete), the
  holder renews its lock with a PUT `If-Match` its own ETag, which fails once another writer took it
  over; it deletes the object after the swap with `If-Match` its ETag too (a conditional delete).

A writer that cannot take the lock within LOCK_WAIT_SECONDS raises SwapLockTimeout, and one whose lock
was taken over raises SwapLockLost: it never swaps without the lock.
"""
import datetime as dt
import json
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Iterator, Optional, Tuple, Union

from . import conditional
from .failures import SwapLockLost, SwapLockTimeout

# How long an S3 lock object holds after its last write: far above a day's swap (a few copies and
# deletes), so a live holder never loses it; a dead holder's lock blocks the day for this long at most.
LOCK_TTL_SECONDS = 600
# How long a writer waits for a day's lock before it gives up: beyond LOCK_TTL_SECONDS, so a dead
# holder's S3 lock is taken over rather than failing the waiter; a live holder swaps in seconds.
LOCK_WAIT_SECONDS = 900
_POLL_SECONDS = 0.01  # locally a swap is a rename: ask often
# A 409 on the release (a concurrent request on the lock object) is asked again this often, as the
# worker's conditional writes do; a lock left behind only blocks the day until it expires.
_RELEASE_ASKS = 5
_S3_POLL_SECONDS = 1.0  # each S3 ask is a PUT and a GET


@dataclass(frozen=True)
class Held:
    """A day's lock this writer holds: locally its owner bytes, on S3 its lock object's ETag."""
    uri: str
    token: Union[bytes, str]


def owner(attempt: str, run_id: str) -> bytes:
    """This writer as a lock names it: conditional.py's owner plus the job attempt and run."""
    me = json.loads(conditional.owner_bytes())
    return json.dumps({**me, "attempt": attempt, "run_id": run_id}, separators=(",", ":")).encode()


class DayLock:
    """A day's lock held for a block (hold()): `confirm()` before a step that must not meet a new holder."""

    def __init__(self, held: Held, me: bytes):
        self.held, self._me = held, me

    def confirm(self) -> None:
        """Still this writer's, renewed (S3: a new expiry); SwapLockLost once another writer took it over."""
        renewed = renew(self.held, self._me)
        if renewed is None:
            raise SwapLockLost(self.held.uri, describe_holder(self.held.uri))
        self.held = renewed


@contextmanager
def hold(fs, uri: str, me: bytes) -> Iterator[DayLock]:
    """Hold the lock `uri` for the block; waits for another holder at most LOCK_WAIT_SECONDS.

    Each ask goes through `fs.try_swap_lock` (LakeFs), one attempt at a time."""
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    poll = _POLL_SECONDS if uri.startswith("file://") else _S3_POLL_SECONDS
    while True:
        held = fs.try_swap_lock(uri, me)
        if held is not None:
            break
        if time.monotonic() > deadline:
            raise SwapLockTimeout(uri, describe_holder(uri), LOCK_WAIT_SECONDS)
        time.sleep(poll)
    lock = DayLock(held, me)
    try:
        yield lock
    finally:
        fs.release_swap_lock(lock.held)


def try_lock(uri: str, me: bytes) -> Optional[Held]:
    """One attempt at the lock: held, or None while another writer holds it (a stale or expired lock is taken)."""
    if uri.startswith("file://"):
        return _local_try(uri, me)
    if uri.startswith(conditional._S3_SCHEMES):
        return _s3_try(uri, me)
    raise ValueError(f"a day's swap lock needs a file:// or s3:// lake, not {uri}")


def renew(held: Held, me: bytes) -> Optional[Held]:
    """The lock, still this writer's and (S3) good for another LOCK_TTL_SECONDS; None once another holds it."""
    if held.uri.startswith("file://"):
        # A local lock never expires while its holder lives: it is ours as long as it names us.
        return held if conditional._read_bytes(held.uri[len("file://"):]) == held.token else None
    client, (bucket, key) = conditional._s3_client(held.uri), conditional._bucket_key(held.uri)
    etag = _s3_put_if(client, bucket, key, _s3_body(me), {"IfMatch": f'"{held.token}"'})
    return None if etag is None else Held(held.uri, etag)


def release(held: Held) -> None:
    """Remove the lock if it is still this writer's (one taken over meanwhile is left to its new holder)."""
    if held.uri.startswith("file://"):
        conditional.release_lock(held.uri[len("file://"):], held.token)
        return
    from botocore.exceptions import ClientError

    client, (bucket, key) = conditional._s3_client(held.uri), conditional._bucket_key(held.uri)
    for _ in range(_RELEASE_ASKS):
        try:
            # A conditional delete: no window between reading the lock and deleting a new holder's.
            client.delete_object(Bucket=bucket, Key=key, IfMatch=f'"{held.token}"')
            return
        except ClientError as err:
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status in (404, 412):
                return  # gone already, or another writer's lock now: left to it
            if status != 409:
                raise
    # Still 409 (requests racing on the object): left to expire, LOCK_TTL_SECONDS at most.


def describe_holder(uri: str) -> str:
    """Who holds the lock, in words, for a waiter that gives up."""
    if uri.startswith("file://"):
        text = _read(uri[len("file://"):])
        return _holder_words(_json(text)) if text else "nobody (released just now)"
    client, (bucket, key) = conditional._s3_client(uri), conditional._bucket_key(uri)
    found = _s3_get(client, bucket, key)
    if found is None:
        return "nobody (released just now)"
    body = _json(found[0])
    return f"{_holder_words(body.get('holder') or {})}, expiring at {body.get('expires_at')}"


def _json(text) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _holder_words(h: dict) -> str:
    return f"attempt {h.get('attempt')} of run {h.get('run_id')} (pid {h.get('pid')} on {h.get('host')})"


# --- local: conditional.py's lock file ---

def _local_try(uri: str, me: bytes) -> Optional[Held]:
    path = uri[len("file://"):]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if conditional.try_lock(path, me):
        return Held(uri, me)
    holder = _read(path)
    if holder is not None and conditional.is_stale(holder.encode()):
        conditional.break_stale(path, holder.encode(), me)
        if conditional.try_lock(path, me):
            return Held(uri, me)
    return None


def _read(path: str) -> Optional[str]:
    raw = conditional._read_bytes(path)
    return None if raw is None else raw.decode(errors="replace")


# --- S3: a lock object written with conditional PUTs ---

def _s3_try(uri: str, me: bytes) -> Optional[Held]:
    client, (bucket, key) = conditional._s3_client(uri), conditional._bucket_key(uri)
    body = _s3_body(me)
    etag = _s3_put_if(client, bucket, key, body, {"IfNoneMatch": "*"})
    if etag is not None:
        return Held(uri, etag)
    found = _s3_get(client, bucket, key)
    if found is None:
        return None  # released meanwhile: the next ask may take it
    data, etag, age = found
    try:
        ttl = float(_json(data)["ttl_seconds"])
    except (ValueError, KeyError, TypeError):
        ttl = LOCK_TTL_SECONDS  # not a lock this code wrote: it expires like one
    if age <= ttl:
        return None
    taken = _s3_put_if(client, bucket, key, body, {"IfMatch": f'"{etag}"'})  # only the expired object read
    return None if taken is None else Held(uri, taken)


def _s3_body(me: bytes) -> bytes:
    """The lock object: its holder and expiry (the expiry in words; S3's LastModified is what counts)."""
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=LOCK_TTL_SECONDS)
    return json.dumps({"holder": json.loads(me), "ttl_seconds": LOCK_TTL_SECONDS,
                       "expires_at": expires.isoformat(timespec="seconds")}, indent=1).encode()


def _s3_put_if(client, bucket: str, key: str, body: bytes, condition: dict) -> Optional[str]:
    """The new ETag, or None when the condition failed. A refusal is read back first: a PUT whose answer
    was lost is retried by botocore and meets its own write, which holds exactly these bytes."""
    from botocore.exceptions import ClientError

    try:
        put = client.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **condition)
        return put["ETag"].strip('"')
    except ClientError as err:
        # 412: the condition failed; 409: a concurrent conditional write; 404: If-Match on an object now gone.
        if err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") not in (404, 409, 412):
            raise
    found = _s3_get(client, bucket, key)
    return found[1] if found is not None and found[0] == body else None


def _s3_get(client, bucket: str, key: str) -> Optional[Tuple[bytes, str, float]]:
    """(bytes, ETag, age in seconds by S3's clock) of the lock object, or None."""
    try:
        got = client.get_object(Bucket=bucket, Key=key)
    except client.exceptions.NoSuchKey:
        return None
    date = got.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    now = parsedate_to_datetime(date) if date else dt.datetime.now(dt.timezone.utc)
    return got["Body"].read(), got["ETag"].strip('"'), (now - got["LastModified"]).total_seconds()
