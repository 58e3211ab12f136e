"""The lake as the job sees it: the few Hadoop FileSystem calls it needs, on whatever scheme a path has,
and the conditional writes of ledger records (conditional.py)."""
import os
from typing import Dict, List, Optional, Tuple

from pyspark.sql import SparkSession

from . import conditional, day_lock


def _etag(status) -> Optional[str]:
    """The object's ETag from an S3A FileStatus (Hadoop's EtagSource); None on file systems without one."""
    try:
        etag = status.getEtag()
    except Exception:  # py4j: no such method on this FileStatus class (local disk, EMRFS)
        return None
    return str(etag).strip('"') if etag else None


class LakeFs:
    """The few Hadoop FileSystem calls the job needs, on whatever scheme the path has."""

    def __init__(self, spark: SparkSession):
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, path: str):
        p = self._jvm.org.apache.hadoop.fs.Path(path)
        return p.getFileSystem(self._conf), p

    def exists(self, path: str) -> bool:
        fs, p = self._path(path)
        return bool(fs.exists(p))

    def data_bytes(self, path: str) -> int:
        """Total size of the directory's data files (not hidden: `_x`, `.x`); -1 when it holds none."""
        fs, p = self._path(path)
        if not fs.exists(p):
            return -1
        sizes = [
            s.getLen() for s in fs.listStatus(p)
            if s.isFile() and not s.getPath().getName().startswith(("_", "."))
        ]
        return sum(sizes) if sizes else -1

    def has_data_files(self, path: str) -> bool:
        return self.data_bytes(path) >= 0

    def delete(self, path: str) -> None:
        fs, p = self._path(path)
        fs.delete(p, True)

    def data_files(self, path: str) -> List[str]:
        """URIs of the directory's data files (not hidden), sorted; [] when there are none."""
        fs, p = self._path(path)
        if not fs.exists(p):
            return []
        return sorted(
            f"{path}/{s.getPath().getName()}" for s in fs.listStatus(p)
            if s.isFile() and not s.getPath().getName().startswith(("_", "."))
        )

    def file_statuses(self, path: str) -> List[Dict]:
        """The directory's data files (not hidden) with size, modification time (ms) and ETag when known."""
        fs, p = self._path(path)
        if not fs.exists(p):
            return []
        out = []
        for s in fs.listStatus(p):
            name = s.getPath().getName()
            if not s.isFile() or name.startswith(("_", ".")):
                continue
            out.append({"path": f"{path}/{name}", "size": int(s.getLen()),
                        "mtime": int(s.getModificationTime()), "etag": _etag(s)})
        return sorted(out, key=lambda f: f["path"])

    def relative_data_files(self, path: str) -> List[str]:
        """Data files (not hidden) anywhere under the directory, relative to it, sorted.

        An absent directory is an error, not "no files": a publication that found nothing staged for a
        day with rows must fail rather than record the day done with nothing moved."""
        fs, p = self._path(path)
        if not fs.exists(p):
            raise FileNotFoundError(f"{path}: nothing staged there")
        base = str(p.toUri().getPath())
        files = fs.listFiles(p, True)
        out = []
        while files.hasNext():
            rel = str(files.next().getPath().toUri().getPath())[len(base) + 1:]
            if not rel.rsplit("/", 1)[-1].startswith(("_", ".")):
                out.append(rel)
        return sorted(out)

    def rename(self, src: str, dest: str) -> None:
        """Move a file, its destination's parent created first (atomic on a local disk; on S3 a copy and delete)."""
        fs, s = self._path(src)
        _, d = self._path(dest)
        fs.mkdirs(d.getParent())
        if not fs.rename(s, d):
            raise IOError(f"could not move {src} to {dest}")

    def subdirectories(self, path: str) -> List[str]:
        """Names of the directory's subdirectories (hidden ones too), sorted; [] when it does not exist."""
        fs, p = self._path(path)
        if not fs.exists(p):
            return []
        return sorted(s.getPath().getName() for s in fs.listStatus(p) if s.isDirectory())

    def try_swap_lock(self, uri: str, owner: bytes) -> Optional[day_lock.Held]:
        """One attempt at a day's swap lock (day_lock.py): held, or None while another writer holds it."""
        return day_lock.try_lock(uri, owner)

    def release_swap_lock(self, held: day_lock.Held) -> None:
        day_lock.release(held)

    def read_text(self, path: str) -> Optional[str]:
        fs, p = self._path(path)
        if not fs.exists(p):
            return None
        stream = fs.open(p)
        try:
            return str(self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8"))
        finally:
            stream.close()

    def read_text_with_etag(self, path: str) -> Optional[Tuple[str, str]]:
        """(text, etag) of a ledger record, or None: what a conditional write compares with."""
        return conditional.read_text_with_etag(path)

    def write_text_if(self, path: str, text: str, if_match: Optional[str] = None, if_none_match: bool = False) -> str:
        """Write a ledger record only if it is still the one read (`if_match`) or absent; the new etag."""
        return conditional.write_text_if(path, text, if_match=if_match, if_none_match=if_none_match)

    def write_text(self, path: str, text: str) -> None:
        """Replace the file in one step: readers see the old text or the new, never none or half.

        A local file is written beside and renamed over (rename(2) is atomic); an S3 object appears
        whole when its upload completes (a Hadoop rename on S3 is a copy and a delete, with a gap).
        """
        if path.startswith("file://"):
            local = path[len("file://"):]
            os.makedirs(os.path.dirname(local), exist_ok=True)
            tmp = f"{local}.{os.getpid()}.tmp"
            with open(tmp, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, local)
            return
        fs, p = self._path(path)
        out = fs.create(p, True)
        out.write(bytearray(text.encode("utf-8")))
        out.close()
