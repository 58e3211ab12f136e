"""How golden/bronze.jsonl was made (seeded): the fixed input of test_golden_output.py.

The test reads bronze.jsonl, never this script: the fixture is what is fixed. Each line of it is a JSON
array [arrival date, raw bronze line]. Changing the fixture means a new `output` digest in
definitions.json's "transform" block, not a new revision (docs/development.md).

    .venv/bin/python spark_jobs/tests/golden/make_bronze.py > spark_jobs/tests/golden/bronze.jsonl
"""
import datetime as dt
import json
import random

DAYS = ["2025-09-30", "2025-10-01", "2025-10-02"]


def utc(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp())


def date_of(t: int) -> str:
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).date().isoformat()


def shift(day: str, n: int) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=n)).isoformat()


def event(event_id, card, t, amount, merchant="m_1", status="APPROVED", currency="USD", **extra):
    return {"event_id": event_id, "card_id": card, "merchant_id": merchant, "amount": amount,
            "currency": currency, "status": status, "event_time": t, **extra}


def edges():
    """Window edges, ties at one second, midnight, declined events: (arrival, event) pairs."""
    t0 = utc("2025-10-01T12:00:00")
    out = []

    def add(card, rows):
        for i, (dt_, amount, merchant, status) in enumerate(rows):
            out.append(event(f"{card}-{i}", card, t0 + dt_, amount, merchant, status))

    add("e_1h", [(0, 1.0, "m_a", "APPROVED"), (3600, 2.0, "m_b", "APPROVED"), (7201, 3.0, "m_a", "APPROVED")])
    add("e_24h", [(-86400, 5.25, "m_a", "APPROVED"), (0, 4.75, "m_b", "APPROVED"), (86400, 1.5, "m_a", "DECLINED"),
                  (86401, 2.5, "m_c", "APPROVED")])
    add("e_tie", [(0, 1.0, "m_a", "APPROVED"), (0, 2.0, "m_a", "DECLINED"), (0, 3.0, "m_b", "APPROVED"),
                  (1, 4.0, "m_a", "APPROVED"), (3601, 5.0, "m_a", "APPROVED")])
    add("e_merch", [(-86401, 1.0, "m_a", "APPROVED"), (-86400, 1.0, "m_b", "APPROVED"), (-10, 1.0, "m_a", "APPROVED"),
                    (0, 1.0, "m_a", "APPROVED"), (0, 1.0, "m_b", "DECLINED"), (86400, 1.0, "m_a", "APPROVED")])
    mid = utc("2025-10-01T23:59:59")
    for i, (d, m) in enumerate([(0, "m_a"), (1, "m_b"), (3600, "m_a"), (86400, "m_c"), (86401, "m_a")]):
        out.append(event(f"e_mid-{i}", "e_mid", mid + d, 10.0 * (i + 1), m))
    return [(date_of(e["event_time"]), e) for e in out]


def bulk(rng: random.Random):
    """Seeded events on several cards, with late arrivals and duplicates of every kind."""
    out = []
    start = utc("2025-09-30T00:00:00")
    for c in range(8):
        card = f"card_{c:02d}"
        t = start + rng.randrange(0, 7200)
        for i in range(60):
            t += rng.choice([0, 0, 1, 59, 600, 3599, 3600, 3601, 2400, 5000, 7200, 9000, 14400])
            if t >= utc("2025-10-03T00:00:00"):
                break
            amount = rng.choice([0.01, 0.005, 1.0, 12.345, 99.99, 250.0, 3.335, 1234.5]) + rng.randrange(0, 3)
            extra = {}
            if rng.random() < 0.7:
                extra["mcc"] = rng.choice(["5411", "5812", "5999"])
            if rng.random() < 0.7:
                extra["country"] = rng.choice(["US", "FR", "DE"])
            e = event(f"evt-0000000000-{c:02d}-{i:03d}", card, t, amount, f"m_{rng.randrange(5)}",
                      "DECLINED" if rng.random() < 0.2 else "APPROVED", **extra)
            arrival = date_of(t) if rng.random() < 0.85 else shift(date_of(t), 1)
            out.append((arrival, e))
            r = rng.random()
            if r < 0.08:  # the same copy again, same day
                out.append((arrival, dict(e)))
            elif r < 0.16:  # a copy arriving a day later, with smaller content: the earlier one still wins
                out.append((shift(arrival, 1), {**e, "amount": 0.5, "merchant_id": "m_0"}))
            elif r < 0.24:  # same arrival, other content: the smallest content wins
                other = {**e, "amount": e["amount"] + rng.choice([-0.5, 0.5])}
                other.pop("mcc", None)
                out.append((arrival, other))
            elif r < 0.28:  # same arrival, differ on mcc/country only (null against a value)
                out.append((arrival, {**e, "mcc": None, "country": "ZZ"}))
            elif r < 0.32:  # a copy dated on another day: kept once per event date
                moved = t + rng.choice([-86400, 86400])
                out.append((date_of(moved), {**e, "event_time": moved}))
    return out


def bad_lines(day: str):
    """Lines every quarantine rule refuses, and edge lines the rules accept."""
    t = utc(f"{day}T08:00:00")

    def good(**kw):
        e = event(f"x-{day}-{len(kw)}-{sorted(kw.items())!r}"[:60], "card_bad", t, 1.5, **{})
        e.update(kw)
        return json.dumps(e)

    return [
        "not json at all", '{"event_id": "broken", "card_id": ', '["an", "array"]', "[]", "42", '"a string"',
        "null", "{}", "", "   ", "\t", "\u2028" + good(), "\u00a0" + good(), "\t" + good(note="tab_lead"),
        "\x0b\f\r " + good(note="ws_lead"),
        good(card_id=None), good(card_id=""), good(card_id=" "), good(card_id="\u2028"), good(card_id="\u00a0"),
        good(card_id="\x0b"), good(event_id=" \t"), good(merchant_id="\u0085"),
        good(amount="abc"), good(amount="12.5"), good(amount=True), good(amount=None),
        good(event_time="soon"), good(event_time=1.5e9), good(event_time=2**70), good(event_time=None),
        good(status="PENDING"), good(status="approved"), good(status=None), good(currency="usd"), good(currency="EURO"),
        good(currency="US"), good(amount=0.004), good(amount=0.005), good(amount=0.0049999), good(amount=-1.0),
        good(amount=-0.0), good(amount=1e-300), good(amount=0), good(amount=2e12), good(amount=1e12),
        good(amount=123456789.015), good(nested={"a": [1, 2]}, extra="ok"),
        good().replace('"amount": 1.5', '"amount": NaN'), good().replace('"amount": 1.5', '"amount": Infinity'),
        good().replace('"amount": 1.5', '"amount": -Infinity'),
        good().replace('"event_id": ', '"event_id": "first", "event_id": '),
        good().replace("}", ', "trailing": }'), good() + " trailing text", good() + "  ",
        good(mcc=5411, country=["US"]),
        # arrival rules: one day late (kept), two days late, and before the event date
        json.dumps(event(f"late1-{day}", "card_late", t - 86400, 7.0)),
        json.dumps(event(f"late2-{day}", "card_late", t - 2 * 86400, 7.0)),
        json.dumps(event(f"early-{day}", "card_late", t + 86400, 7.0)),
    ]


def main() -> None:
    rng = random.Random(22)
    rows = edges() + bulk(rng)
    lines = [(a, json.dumps(e)) for a, e in rows]
    for day in DAYS:
        lines += [(day, line) for line in bad_lines(day)]
    lines = [(a, line) for a, line in lines if a in DAYS + [shift(DAYS[-1], 1)]]
    rng.shuffle(lines)
    for a, line in lines:
        print(json.dumps([a, line]))


if __name__ == "__main__":
    main()
