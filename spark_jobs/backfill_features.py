"""Spark entry point (spark-submit locally, EMR Serverless in AWS).

Ship `card_features` beside it (locally it is next to this file; on EMR as --py-files card_features.zip).
`backfill_features.py diff --spec URI --output URI` runs `backfill diff`'s job (card_features/diff_job.py)
instead of the feature job, so both go through the same runners and the same deployed code.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

if __name__ == "__main__":
    if sys.argv[1:2] == ["diff"]:
        from card_features.diff_job import main as diff_main  # noqa: E402

        sys.exit(diff_main(sys.argv[2:]))
    from card_features.job import main  # noqa: E402

    sys.exit(main(sys.argv[1:]))
