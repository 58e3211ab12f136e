"""A plain-Python, brute-force reading of docs/design.md's feature definitions: the oracle the Spark job is checked against.

Deliberately naive (no windows, no sorting tricks): for each event, scan the card's events.
"""
import datetime as dt
import glob
import gzip
import json
import math
import os
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Dict, List, Tuple

VALID_STATUSES = {"APPROVED", "DECLINED"}
COUNTED = {"v1": {"APPROVED", "DECLINED"}, "v2": {"APPROVED"}}
W1H, W24H = 3600, 86400


def read_bronze(lake: str) -> Dict[str, List[str]]:
    out = {}
    for folder in sorted(glob.glob(os.path.join(lake, "bronze", "streaming", "card_authorization", "dt=*"))):
        lines = []
        for path in sorted(glob.glob(os.path.join(folder, "*.json.gz"))):
            with gzip.open(path, "rt") as f:
                lines.extend(f.read().splitlines())
        out[folder.rsplit("dt=", 1)[1]] = lines
    return out


def _valid(obj, arrival: dt.date, lateness: int):
    if not isinstance(obj, dict):
        return None
    for k in ("event_id", "card_id", "merchant_id", "currency", "status"):
        if not isinstance(obj.get(k), str):
            return None
    amount, t = obj.get("amount"), obj.get("event_time")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount) or abs(amount) > 1e12:
        return None
    if isinstance(t, bool) or not isinstance(t, int):
        return None
    # Identifiers of nothing but ASCII blank space name no entity.
    if any(re.fullmatch(r"[ \t\n\x0b\f\r]*", obj[k]) for k in ("event_id", "card_id", "merchant_id")):
        return None
    if obj["status"] not in VALID_STATUSES or not re.fullmatch(r"[A-Z]{3}", obj["currency"]):
        return None
    cents = Decimal(repr(float(amount))).quantize(Decimal("0.01"), ROUND_HALF_UP)
    if cents <= 0:  # an authorization moves money: zero or less (in cents) is not one
        return None
    event_day = dt.datetime.fromtimestamp(t, dt.timezone.utc).date()
    if not 0 <= (arrival - event_day).days <= lateness:
        return None
    return {**obj, "amount": cents, "dt": event_day.isoformat()}


def silver(bronze: Dict[str, List[str]], lateness: int = 1) -> Dict[Tuple[str, str], dict]:
    """Valid events by (event_id, event date); the earliest arrival wins, then the smallest content."""
    best: Dict[Tuple[str, str], Tuple] = {}
    for arrival, lines in bronze.items():
        arrival_day = dt.date.fromisoformat(arrival)
        for line in lines:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            e = _valid(obj, arrival_day, lateness)
            if e is None:
                continue
            key = (arrival, e["event_time"], e["card_id"], e["merchant_id"], e["amount"], e["status"], e["currency"],
                   (e.get("mcc") is not None, e.get("mcc") or ""), (e.get("country") is not None, e.get("country") or ""))
            at = (e["event_id"], e["dt"])
            if at not in best or key < best[at][0]:
                best[at] = (key, e)
    return {k: v[1] for k, v in best.items()}


def gold(events: Dict[Tuple[str, str], dict], version: str, start: str, end: str) -> Dict[Tuple[str, str], tuple]:
    """(event_id, dt) -> (dt, card_id, event_time, count_1h, count_24h, amount_sum_24h, merchants_24h) for dt in [start, end]."""
    counted = COUNTED[version]
    by_card: Dict[str, List[dict]] = {}
    for e in events.values():
        by_card.setdefault(e["card_id"], []).append(e)
    out = {}
    for e in events.values():
        if not start <= e["dt"] <= end:
            continue
        t = e["event_time"]
        in24 = [o for o in by_card[e["card_id"]] if t - W24H <= o["event_time"] <= t and o["status"] in counted]
        in1 = [o for o in in24 if o["event_time"] >= t - W1H]
        out[(e["event_id"], e["dt"])] = (e["dt"], e["card_id"], t, len(in1), len(in24),
                              float(sum((o["amount"] for o in in24), Decimal(0))), len({o["merchant_id"] for o in in24}))
    return out
