"""The manifest file the orchestrator reads (src/common/results.ts ChunkManifest): its fields, written once each."""
import json

from card_features import steps
from lakeutil import ev, run_backfill, write_bronze

# Every field the job writes; phase_seconds and commits only for a chunk that processed days.
ALWAYS = {
    "feature_group", "feature_version", "feature_definition", "fingerprint", "code_revision", "start_date",
    "end_date", "overwrite", "allowed_lateness_days", "bronze_partitions_read", "coverage_gaps",
    "missing_context_partitions", "skipped_partitions", "processed_partitions", "written_partitions",
    "overwritten_partitions", "deleted_partitions", "rows_read", "input_rows", "input_rows_per_dt",
    "quarantined_rows", "quarantined_rows_per_dt", "quarantine_reasons", "duplicates_removed", "output_rows",
    "output_rows_per_dt", "duplicate_event_ids_in_output", "min_event_time", "max_event_time", "gold_table",
    "run_id", "duration_seconds", "spark_version", "manifest_path",
}


def test_manifest_fields_of_a_computed_and_a_skipped_chunk(spark, lake):
    write_bronze(lake, "2025-10-01", [ev("a", "X", "2025-10-01T10:00:00"), ev("a", "X", "2025-10-01T10:00:00"),
                                      "not json"])
    [computed] = run_backfill(spark, lake, "2025-10-01", "2025-10-01", "--run-id", "r1")
    assert json.loads(open(computed["manifest_path"][len("file://"):]).read()) == computed
    [skipped] = run_backfill(spark, lake, "2025-10-01", "2025-10-01", "--run-id", "r2")

    assert set(computed) == ALWAYS | {"phase_seconds", "commits"}
    assert set(skipped) == ALWAYS
    assert (computed["bronze_partitions_read"], computed["rows_read"], computed["input_rows_per_dt"],
            computed["quarantine_reasons"], computed["duplicates_removed"], computed["output_rows_per_dt"],
            computed["written_partitions"]) == (["2025-10-01"], 3, {"2025-10-01": 3}, {"not_a_json_object": 1}, 1,
                                                {"2025-10-01": 1}, ["2025-10-01"])
    assert list(computed["commits"]) == ["2025-10-01"] and computed["commits"]["2025-10-01"]["rows"] == 1
    assert set(computed["phase_seconds"]) == {"parse_and_count", "quarantine_write", "dedup_and_silver_write",
                                              "features_and_gold_write"}
    assert (skipped["skipped_partitions"], skipped["bronze_partitions_read"], skipped["output_rows_per_dt"]) == (
        ["2025-10-01"], [], {})


def test_line_counts_summary_is_pure():
    rows = [
        {"arrival_dt": "2025-10-02", "event_dt": "2025-10-01", "reason": None, "lines": 4},   # late, lookback day
        {"arrival_dt": "2025-10-02", "event_dt": "2025-10-02", "reason": None, "lines": 5},
        {"arrival_dt": "2025-10-02", "event_dt": None, "reason": "malformed_json", "lines": 2},
        {"arrival_dt": "2025-10-03", "event_dt": "2025-10-03", "reason": None, "lines": 7},   # after the chunk
    ]
    counts = steps.summarize_line_counts(rows, ["2025-10-02"], "2025-10-01", "2025-10-02")
    assert counts == steps.LineCounts(rows_read=18, input_per_dt={"2025-10-02": 11}, bad_per_dt={"2025-10-02": 2},
                                    reasons={"malformed_json": 2}, valid_per_event_dt={"2025-10-02": 5},
                                    in_scope_rows=9)
