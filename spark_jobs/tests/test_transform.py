"""The pure transformations on hand-made rows, with hand-computed expectations.

Each scenario uses its own card, so one DataFrame checks many window edges at once.
"""
import datetime as dt
import json
import random
import re
from decimal import Decimal

import pytest
import reference
from pyspark.sql import types as T

from card_features import transform
from card_features.definitions import get_definition
from lakeutil import ev, utc

SILVER_SCHEMA = T.StructType([
    T.StructField("event_id", T.StringType()),
    T.StructField("card_id", T.StringType()),
    T.StructField("merchant_id", T.StringType()),
    T.StructField("amount", T.DecimalType(18, 2)),
    T.StructField("currency", T.StringType()),
    T.StructField("status", T.StringType()),
    T.StructField("event_time", T.LongType()),
    T.StructField("mcc", T.StringType()),
    T.StructField("country", T.StringType()),
    T.StructField("dt", T.StringType()),
])

T0 = utc("2025-10-01T12:00:00")


def silver_df(spark, events):
    rows = [(e["event_id"], e["card_id"], e["merchant_id"], Decimal(str(e["amount"])), e["currency"], e["status"],
             e["event_time"], None, None,
             dt.datetime.fromtimestamp(e["event_time"], dt.timezone.utc).date().isoformat()) for e in events]
    return spark.createDataFrame(rows, SILVER_SCHEMA)


def features_by_id(spark, events, version):
    out = transform.compute_features(silver_df(spark, events), get_definition(version)).collect()
    assert [c for c in out[0].__fields__] == transform.GOLD_COLUMNS
    return {r["event_id"]: r for r in out}


def f(row):
    return (row["txn_count_1h"], row["txn_count_24h"], row["amount_sum_24h"], row["merchant_count_24h"])


# (event, expected v1 features (count_1h, count_24h, amount_sum_24h, merchant_count_24h), expected v2 features)
SCENARIOS = [
    # exactly 3600 s apart: inside the 1 h window (inclusive)
    (ev("h_a", "c_1h_edge", T0, 1.00, "m_a"), (1, 1, 1.0, 1), (1, 1, 1.0, 1)),
    (ev("h_b", "c_1h_edge", T0 + 3600, 2.00, "m_b"), (2, 2, 3.0, 2), (2, 2, 3.0, 2)),
    # 3601 s apart: outside 1 h, inside 24 h
    (ev("h1_a", "c_1h_out", T0, 1.00, "m_a"), (1, 1, 1.0, 1), (1, 1, 1.0, 1)),
    (ev("h1_b", "c_1h_out", T0 + 3601, 2.00, "m_a"), (1, 2, 3.0, 1), (1, 2, 3.0, 1)),
    # exactly 86400 s apart: inside the 24 h window
    (ev("d_a", "c_24h_edge", T0, 5.25, "m_a"), (1, 1, 5.25, 1), (1, 1, 5.25, 1)),
    (ev("d_b", "c_24h_edge", T0 + 86400, 4.75, "m_b"), (1, 2, 10.0, 2), (1, 2, 10.0, 2)),
    # 86401 s apart: outside
    (ev("d1_a", "c_24h_out", T0, 5.25, "m_a"), (1, 1, 5.25, 1), (1, 1, 5.25, 1)),
    (ev("d1_b", "c_24h_out", T0 + 86401, 4.75, "m_b"), (1, 1, 4.75, 1), (1, 1, 4.75, 1)),
    # equal timestamps all count each other (two merchants among three events)
    (ev("eq_a", "c_equal", T0, 1.00, "m_a"), (3, 3, 6.0, 2), (3, 3, 6.0, 2)),
    (ev("eq_b", "c_equal", T0, 2.00, "m_a"), (3, 3, 6.0, 2), (3, 3, 6.0, 2)),
    (ev("eq_c", "c_equal", T0, 3.00, "m_b"), (3, 3, 6.0, 2), (3, 3, 6.0, 2)),
    # around midnight UTC: windows cross the day boundary
    (ev("mn_a", "c_midnight", "2025-10-01T23:30:00", 10.00, "m_a"), (1, 1, 10.0, 1), (1, 1, 10.0, 1)),
    (ev("mn_b", "c_midnight", "2025-10-02T00:10:00", 20.00, "m_b"), (2, 2, 30.0, 2), (2, 2, 30.0, 2)),
    (ev("mn_c", "c_midnight", "2025-10-02T23:30:00", 40.00, "m_a"), (1, 3, 70.0, 2), (1, 3, 70.0, 2)),
    # declined: v1 counts it, v2 gives it a row but never counts it, not even itself
    (ev("dc_a", "c_declined", T0, 10.00, "m_a"), (1, 1, 10.0, 1), (1, 1, 10.0, 1)),
    (ev("dc_b", "c_declined", T0 + 10, 99.00, "m_b", status="DECLINED"), (2, 2, 109.0, 2), (1, 1, 10.0, 1)),
    # dc_c and dc_d share a timestamp, so each sees the other
    (ev("dc_c", "c_declined", T0 + 20, 5.00, "m_c"), (4, 4, 115.0, 4), (2, 2, 15.0, 2)),
    (ev("dc_d", "c_declined", T0 + 20, 1.00, "m_d", status="DECLINED"), (4, 4, 115.0, 4), (2, 2, 15.0, 2)),
    # a card with only a declined event: v2 row with all zeros
    (ev("dc_only", "c_declined_only", T0, 50.00, "m_a", status="DECLINED"), (1, 1, 50.0, 1), (0, 0, 0.0, 0)),
    # declined event at equal time as approved ones on the same merchant (v2 distinct merchants only approved)
    (ev("dm_a", "c_declined_merchant", T0, 1.00, "m_x", status="DECLINED"), (2, 2, 3.0, 2), (1, 1, 2.0, 1)),
    (ev("dm_b", "c_declined_merchant", T0, 2.00, "m_y"), (2, 2, 3.0, 2), (1, 1, 2.0, 1)),
    # decimal money: 0.10 + 0.20 is exactly 0.3, in any order
    (ev("money_a", "c_money", T0, 0.10, "m_a"), (1, 1, 0.1, 1), (1, 1, 0.1, 1)),
    (ev("money_b", "c_money", T0 + 1, 0.20, "m_a"), (2, 2, 0.3, 1), (2, 2, 0.3, 1)),
    # another card at the same instants never counts (per-card windows)
    (ev("iso_a", "c_other", T0, 7.00, "m_a"), (1, 1, 7.0, 1), (1, 1, 7.0, 1)),
]


@pytest.mark.parametrize("version,col", [("v1", 1), ("v2", 2)])
def test_window_edges_by_hand(spark, version, col):
    got = features_by_id(spark, [s[0] for s in SCENARIOS], version)
    expected = {s[0]["event_id"]: s[col] for s in SCENARIOS}
    assert {k: f(v) for k, v in got.items()} == expected
    assert {r["feature_version"] for r in got.values()} == {version}
    # gold dt is the UTC date of event_time
    assert got["mn_a"]["dt"] == "2025-10-01" and got["mn_b"]["dt"] == "2025-10-02"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_dense_cards_with_ties_match_the_reference(spark, version):
    """Hundreds of events per card, many on the same second or exactly 1 h / 24 h (+1 s) apart, merchants
    recurring within and beyond the window: every feature equals the brute-force reference's."""
    rnd = random.Random(11)
    events = []
    for i in range(1500):
        t = T0 + rnd.randrange(0, 2 * 86400, 1800) + rnd.choice([0, 0, 1, -1, 3600, 3601, 86400, 86401,
                                                                 rnd.randrange(86400)])
        events.append(ev(f"d{i}", f"card_{rnd.randrange(4)}", t, amount=rnd.randrange(1, 5000) / 100,
                         merchant_id=f"m_{rnd.randrange(25)}", status=rnd.choice(["APPROVED", "DECLINED"])))
    got = {r["event_id"]: (r["txn_count_1h"], r["txn_count_24h"], r["amount_sum_24h"], r["merchant_count_24h"])
           for r in transform.compute_features(silver_df(spark, events), get_definition(version)).collect()}
    by_key = {}
    for e in events:
        day = dt.datetime.fromtimestamp(e["event_time"], dt.timezone.utc).date().isoformat()
        by_key[(e["event_id"], day)] = {**e, "amount": Decimal(str(e["amount"])), "dt": day}
    expected = {eid: values[3:] for (eid, _), values in reference.gold(by_key, version, "0000", "9999").items()}
    assert len({v[3] for v in expected.values()}) > 10  # distinct merchant counts spread, not saturated
    assert got == expected


def test_windows_are_running_totals(spark):
    """Every range frame starts at the card's first event. Spark updates such a frame row by row; a sliding
    frame ([t - W, t]) is recomputed over all its rows for every event, quadratic in a card's events per day."""
    df = transform.compute_features(silver_df(spark, [ev("e", "c", T0)]), get_definition("v1"))
    plan = df._jdf.queryExecution().executedPlan().toString()
    lower_bounds = re.findall(r"specifiedwindowframe\(RangeFrame, ([^,]+),", plan)
    assert lower_bounds and set(lower_bounds) == {"unboundedpreceding$()"}, plan


def test_gold_for_days_keeps_lookback_out_but_counts_it(spark):
    events = [ev("p", "c", "2025-10-01T23:59:59", 1.0), ev("q", "c", "2025-10-02T00:00:00", 2.0),
              ev("r", "c", "2025-10-03T00:00:00", 4.0)]
    rows = transform.gold_for_days(silver_df(spark, events), get_definition("v1"), ["2025-10-02"]).collect()
    assert [(r["event_id"], f(r)) for r in rows] == [("q", (2, 2, 3.0, 1))]


def raw_df(spark, lines_by_dt):
    return spark.createDataFrame([(line, d) for d, lines in lines_by_dt.items() for line in lines], "value string, dt string")


GOOD = '{"event_id":"g1","card_id":"c","merchant_id":"m","amount":1.5,"currency":"USD","status":"APPROVED","event_time":%d}'


def test_parse_bronze_tags_every_kind_of_bad_line(spark):
    day = utc("2025-10-02T08:00:00")
    prev_day = utc("2025-10-01T08:00:00")
    lines = {
        "2025-10-02": [
            GOOD % day,
            "not json at all",
            '{"event_id": "broken", "card_id": ',
            '["an", "array"]',
            '{"event_id":"x1","merchant_id":"m","amount":1,"currency":"USD","status":"APPROVED","event_time":%d}' % day,
            '{"event_id":"x2","card_id":"c","merchant_id":"m","amount":"abc","currency":"USD","status":"APPROVED","event_time":%d}' % day,
            '{"event_id":"x3","card_id":"c","merchant_id":"m","amount":1,"currency":"USD","status":"APPROVED","event_time":"soon"}',
            '{"event_id":"x4","card_id":"c","merchant_id":"m","amount":1,"currency":"USD","status":"PENDING","event_time":%d}' % day,
            '{"event_id":"x5","card_id":"c","merchant_id":"m","amount":1,"currency":"usd","status":"APPROVED","event_time":%d}' % day,
            # arrived one day late: fine with lateness 1
            '{"event_id":"late1","card_id":"c","merchant_id":"m","amount":1,"currency":"USD","status":"APPROVED","event_time":%d}' % prev_day,
            # arrived two days late, and before its event date
            '{"event_id":"late2","card_id":"c","merchant_id":"m","amount":1,"currency":"USD","status":"APPROVED","event_time":%d}' % (prev_day - 86400),
            '{"event_id":"early","card_id":"c","merchant_id":"m","amount":1,"currency":"USD","status":"APPROVED","event_time":%d}' % (day + 86400),
            "",
            "   ",
        ]
    }
    parsed = transform.parse_bronze(raw_df(spark, lines), lateness_days=1).collect()
    reasons = {(r["event_id"] or r["raw"]): r["reason"] for r in parsed}
    assert reasons == {
        "g1": None,
        "late1": None,
        "not json at all": "not_a_json_object",
        '{"event_id": "broken", "card_id": ': "malformed_json",
        '["an", "array"]': "not_a_json_object",
        "x1": "missing_or_invalid:card_id",
        "x2": "missing_or_invalid:amount",
        "x3": "missing_or_invalid:event_time",
        "x4": "invalid_status",
        "x5": "invalid_currency",
        "late2": "arrived_after_allowed_lateness",
        "early": "arrived_before_event_date",
    }
    by_id = {r["event_id"]: r for r in parsed if r["event_id"]}
    assert by_id["late1"]["event_dt"] == "2025-10-01" and by_id["late1"]["arrival_dt"] == "2025-10-02"
    # the raw line is kept for quarantined lines only
    assert by_id["g1"]["raw"] is None and by_id["x4"]["raw"].startswith('{"event_id":"x4"')
    # with lateness 2, the two-day-late line is accepted
    relaxed = transform.parse_bronze(raw_df(spark, lines), lateness_days=2)
    assert relaxed.where("event_id = 'late2'").first()["reason"] is None


def test_parse_bronze_edge_lines_keep_the_regex_rules(spark):
    """Edge lines and identifiers as Java's `\\s` and `$` (which also matches before a final line
    terminator) rule on them: the rules any cheaper test in front of the regexes must keep (#22)."""
    day = utc("2025-10-02T08:00:00")

    def line(event_id, card_id="c", amount=1):
        return json.dumps({"event_id": event_id, "card_id": card_id, "merchant_id": "m", "amount": amount,
                           "currency": "USD", "status": "APPROVED", "event_time": day})

    lines = [
        "\t" + line("tab_lead"), "\x0b\f\r " + line("ws_lead"), "\u2028" + line("sep_lead"),
        "\u00a0" + line("nbsp_lead"), "\t",
        line("t_sep", "\u2028"), line("t_sp_sep", " \u2028"), line("t_sep_sp", "\u2028 "), line("t_nel", "\t\u0085"),
        line("t_ps", "\u2029"), line("t_vt", "\x0b"), line("t_nbsp", "\u00a0"), line("t_bang", "!"),
        line("t_ctl", "\x01"), line("t_sep_x", "\u2028x"), line("t_crlf", "\r\n"),
        line("a_0004", amount=0.004), line("a_0005", amount=0.005), line("a_00049", amount=0.0049999),
        line("a_001", amount=0.01), line("a_neg0", amount=-0.0), line("a_tiny", amount=1e-300),
    ]
    parsed = transform.parse_bronze(raw_df(spark, {"2025-10-02": lines}), lateness_days=1).collect()
    reasons = {(r["event_id"] or r["raw"]): r["reason"] for r in parsed}
    assert reasons == {
        # \\s takes a vertical tab, JSON does not
        "tab_lead": None, "\x0b\f\r " + line("ws_lead"): "malformed_json", "\u2028" + line("sep_lead"): "not_a_json_object",
        "\u00a0" + line("nbsp_lead"): "not_a_json_object", "\t": "not_a_json_object",
        "t_sep": "empty:card_id", "t_sp_sep": "empty:card_id", "t_sep_sp": None, "t_nel": "empty:card_id",
        "t_ps": "empty:card_id", "t_vt": "empty:card_id", "t_nbsp": None, "t_bang": None, "t_ctl": None,
        "t_sep_x": None, "t_crlf": "empty:card_id",
        "a_0004": "non_positive_amount", "a_0005": None, "a_00049": "non_positive_amount", "a_001": None,
        "a_neg0": "non_positive_amount", "a_tiny": "non_positive_amount",
    }


def test_deduplicate_keeps_earliest_arrival_then_content_order(spark):
    t = utc("2025-10-01T10:00:00")

    def line(eid, amount):
        return GOOD.replace('"g1"', f'"{eid}"').replace("1.5", str(amount)) % t
    raw = raw_df(spark, {
        "2025-10-01": [line("dup", 3.0), line("dup", 3.0), line("same_day", 9.0), line("same_day", 2.0),
                       line("single", 1.0)],
        "2025-10-02": [line("dup", 1.0), line("late_only", 5.0), line("late_only", 5.0)],
    })
    silver = transform.deduplicate(transform.parse_bronze(raw, 1)).collect()
    assert [c for c in silver[0].__fields__] == transform.SILVER_COLUMNS
    got = {r["event_id"]: r["amount"] for r in silver}
    assert got == {"dup": Decimal("3.00"), "same_day": Decimal("2.00"), "single": Decimal("1.00"),
                   "late_only": Decimal("5.00")}
    assert {r["dt"] for r in silver} == {"2025-10-01"}


def test_line_counts_and_quarantine_rows(spark):
    t = utc("2025-10-01T10:00:00")
    raw = raw_df(spark, {"2025-10-01": [GOOD % t, GOOD % t, "oops"], "2025-10-02": ["{}"]})
    parsed = transform.parse_bronze(raw, 1)
    counts = sorted(((r["arrival_dt"], r["event_dt"], r["reason"], r["lines"])
                     for r in transform.line_counts(parsed).collect()), key=str)
    assert counts == [("2025-10-01", "2025-10-01", None, 2), ("2025-10-01", None, "not_a_json_object", 1),
                      ("2025-10-02", None, "missing_or_invalid:event_id", 1)]
    q = sorted(tuple(r) for r in transform.quarantine_rows(parsed).collect())
    assert q == [("2025-10-01", "oops", "not_a_json_object"), ("2025-10-02", "{}", "missing_or_invalid:event_id")]
