"""Spark entry point (spark-submit locally, EMR Serverless in AWS).

Ship `card_features` beside it (locally it is next to this file; on EMR as --py-files card_features.zip).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from card_features.job import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
