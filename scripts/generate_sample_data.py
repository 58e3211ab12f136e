#!/usr/bin/env python3
"""Write deterministic sample card authorizations into a lake's bronze layout.

Seeded, so the same arguments always give the same bytes. The data has what a real feed has:
duplicate deliveries (same event_id), late arrivals (in the next day's dt folder), declined
authorizations, bursts of one card within an hour (equal timestamps too) and a few malformed lines.
"""
import argparse
import datetime as dt
import gzip
import json
import os
import random
from collections import defaultdict

CURRENCIES = ["USD", "EUR", "HKD", "GBP"]
COUNTRIES = ["US", "GB", "HK", "DE", "FR"]


def generate(start: dt.date, days: int, events_per_day: int, cards: int, seed: int):
    """Yield (arrival_date, line) pairs in a deterministic order."""
    rng = random.Random(seed)
    merchants = [f"m_{i:05d}" for i in range(max(20, cards // 2))]
    serial = 0
    for day in range(days):
        date = start + dt.timedelta(days=day)
        day_start = int(dt.datetime(date.year, date.month, date.day, tzinfo=dt.timezone.utc).timestamp())
        produced = 0
        while produced < events_per_day:
            card = f"card_{rng.randrange(cards):05d}"
            burst = 1 if rng.random() < 0.7 else rng.randint(2, 6)
            t = day_start + rng.randrange(86400)
            for _ in range(burst):
                if produced >= events_per_day:
                    break
                serial += 1
                produced += 1
                event = {
                    "event_id": f"evt_{seed}_{serial:09d}",
                    "card_id": card,
                    "merchant_id": rng.choice(merchants),
                    "amount": round(rng.uniform(1, 500), 2),
                    "currency": rng.choice(CURRENCIES),
                    "status": "DECLINED" if rng.random() < 0.12 else "APPROVED",
                    "event_time": min(t, day_start + 86399),
                }
                if rng.random() < 0.8:
                    event["mcc"] = str(rng.choice([5411, 5812, 5999, 4111, 7011]))
                    event["country"] = rng.choice(COUNTRIES)
                arrival = date
                if rng.random() < 0.06:  # late: arrives within allowed lateness, after midnight
                    arrival = date + dt.timedelta(days=1)
                line = json.dumps(event, separators=(",", ":"))
                yield arrival, line
                if rng.random() < 0.02:  # duplicate delivery, sometimes on the next day
                    yield (arrival if rng.random() < 0.5 else date + dt.timedelta(days=1)), line
                # Next event of a burst: same second now and then, else minutes later.
                t += 0 if rng.random() < 0.15 else rng.randint(1, 1800)
        for k in range(3):  # a few malformed lines per day
            bad = [
                '{"event_id": "broken_%d_%d", "card_id": ' % (day, k),
                json.dumps({"event_id": f"bad_{day}_{k}", "merchant_id": "m_00001", "amount": 3.5,
                            "currency": "USD", "status": "APPROVED", "event_time": day_start + 10}),
                json.dumps({"event_id": f"bad_status_{day}_{k}", "card_id": "card_00001", "merchant_id": "m_1",
                            "amount": 1.0, "currency": "USD", "status": "PENDING", "event_time": day_start + 20}),
            ][k]
            yield date, bad


def write_lake(lake: str, start: dt.date, days: int, events_per_day: int, cards: int, seed: int) -> dict:
    by_day = defaultdict(list)
    for arrival, line in generate(start, days, events_per_day, cards, seed):
        by_day[arrival.isoformat()].append(line)
    table = os.path.join(lake, "bronze", "streaming", "card_authorization")
    written = {}
    for day, lines in sorted(by_day.items()):
        folder = os.path.join(table, f"dt={day}")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "part-00000.json.gz")
        tmp = path + ".tmp"
        # mtime=0 keeps the gzip bytes identical between runs.
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            gz.write(("\n".join(lines) + "\n").encode())
        os.replace(tmp, path)
        written[day] = len(lines)
    return written


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lake", required=True, help="lake root directory")
    p.add_argument("--start-date", default="2025-10-01")
    p.add_argument("--days", type=int, default=7)
    p.add_argument("--events-per-day", type=int, default=2000)
    p.add_argument("--cards", type=int, default=300)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    written = write_lake(a.lake, dt.date.fromisoformat(a.start_date), a.days, a.events_per_day, a.cards, a.seed)
    for day, n in written.items():
        print(f"bronze dt={day}: {n} lines")


if __name__ == "__main__":
    main()
