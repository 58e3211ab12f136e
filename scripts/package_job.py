"""Builds the card_features package into a reproducible zip for EMR Serverless (--py-files).

The same sources give the same bytes: entries sorted, fixed timestamps and permissions, no
__pycache__ or hidden files. Only *.py and *.json files are packaged (the code,
definitions.json and contract.json). `backfill deploy-job` runs this and uploads the result.

    python scripts/package_job.py --job-dir spark_jobs --out /tmp/card_features.zip
"""
import argparse
import os
import sys
import zipfile

PACKAGE = "card_features"
# The earliest time a zip entry can carry; any fixed value does.
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
PACKAGED_SUFFIXES = (".py", ".json")


def package_files(job_dir):
    """(name in the zip, path) of every packaged file, sorted by name."""
    root = os.path.join(job_dir, PACKAGE)
    if not os.path.isfile(os.path.join(root, "__init__.py")):
        raise SystemExit(f"package_job: {root}/__init__.py not found: not the spark_jobs folder")
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.startswith(".")]
        for name in files:
            if name.startswith(".") or not name.endswith(PACKAGED_SUFFIXES):
                continue
            path = os.path.join(folder, name)
            found.append((os.path.relpath(path, job_dir).replace(os.sep, "/"), path))
    return sorted(found)


def build(job_dir, out):
    files = package_files(job_dir)
    with zipfile.ZipFile(out, "w") as zf:
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever the building machine
            info.external_attr = 0o644 << 16
            with open(path, "rb") as f:
                zf.writestr(info, f.read(), compresslevel=9)
    return files


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--job-dir", required=True, help="the spark_jobs folder")
    parser.add_argument("--out", required=True, help="where to write card_features.zip")
    args = parser.parse_args(argv)
    files = build(args.job_dir, args.out)
    print(len(files))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
