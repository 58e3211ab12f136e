"""Feature versions, loaded from definitions.json: the single place where versions are defined.

The JSON is read with pkgutil so it also works when this package ships as a zip (--py-files on EMR).
"""
import hashlib
import json
import pkgutil
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet

# v1, v1.1, v1_corrected, v2.1_fix: "v<major>", then up to three ".x" or "_x" parts.
VERSION_PATTERN = re.compile(r"^v\d+([._][A-Za-z0-9]+){0,3}$")
VERSION_FORM = "v<major> followed by up to three .<part> or _<part> (v1, v1.1, v1_corrected)"

# The transform code every version runs. The build fingerprint covers it through the digests that
# definitions.json's "transform" block declares for these files (src/activities/ledger/fingerprint.ts
# reads the same block on the worker), not through their live bytes: see declared_code_digests.
CODE_FILES = ("definitions.py", "transform.py")


class UnknownFeatureVersion(ValueError):
    pass


@dataclass(frozen=True)
class FeatureDefinition:
    version: str
    description: str
    counted_statuses: FrozenSet[str]
    window_1h_seconds: int
    window_24h_seconds: int
    # Short hash of this version's definition entry (and the windows), as in manifests' feature_definition.
    fingerprint: str
    # Short hash of the definition plus the declared transform code (CODE_FILES): what each gold commit records and
    # the definition-change guard compares (docs/design.md, "Lineage and staleness").
    build_fingerprint: str = ""

    @property
    def lookback_seconds(self) -> int:
        return max(self.window_1h_seconds, self.window_24h_seconds)


def _raw() -> dict:
    data = pkgutil.get_data(__name__.rsplit(".", 1)[0], "definitions.json")
    if data is None:
        raise RuntimeError("card_features/definitions.json is missing from the package")
    return json.loads(data)


def known_versions() -> Dict[str, dict]:
    return dict(_raw()["versions"])


def get_definition(version: str) -> FeatureDefinition:
    if not VERSION_PATTERN.match(version or ""):
        raise UnknownFeatureVersion(
            f"feature version {version!r} is not of the form {VERSION_FORM}"
        )
    raw = _raw()
    versions = raw["versions"]
    if version not in versions:
        raise UnknownFeatureVersion(
            f"feature version {version!r} is not defined; defined versions: {', '.join(sorted(versions))}"
        )
    entry = versions[version]
    windows = raw["windows_seconds"]
    canonical = json.dumps({"windows": windows, "version": entry}, sort_keys=True).encode()
    return FeatureDefinition(
        build_fingerprint=build_fingerprint(canonical),
        version=version,
        description=entry["description"],
        counted_statuses=frozenset(entry["counted_statuses"]),
        window_1h_seconds=int(windows["1h"]),
        window_24h_seconds=int(windows["24h"]),
        fingerprint=hashlib.sha256(canonical).hexdigest()[:12],
    )


def code_digests() -> Dict[str, str]:
    """sha256 of each transform code file's live bytes, read from the package (also inside the job's zip)."""
    package = __name__.rsplit(".", 1)[0]
    out = {}
    for name in CODE_FILES:
        data = pkgutil.get_data(package, name)
        if data is None:
            raise RuntimeError(f"card_features/{name} is missing from the package")
        out[name] = hashlib.sha256(data).hexdigest()
    return out


def transform_block() -> dict:
    """definitions.json's "transform" block: the revision of the transform's outputs and what it declares.

    Revision 1 declares the digests of definitions.py and transform.py as they were released, so the
    lakes built since keep their build fingerprint while the code is refactored or made faster; the
    golden-output test (spark_jobs/tests/test_golden_output.py) holds the code to the outputs of that
    revision. A change of outputs is a new revision on purpose: a new block with the digests of that
    code and its golden output, and so a new build fingerprint for every version.
    """
    block = _raw().get("transform")
    code = block.get("code") if isinstance(block, dict) else None
    if not isinstance(code, dict) or sorted(code) != sorted(CODE_FILES) or not all(
        isinstance(d, str) and re.fullmatch(r"[0-9a-f]{64}", d) for d in code.values()
    ):
        raise RuntimeError(
            'card_features/definitions.json: "transform" must declare {"code": {<file>: <sha256 hex>}} for '
            f"exactly {', '.join(CODE_FILES)}"
        )
    return block


def declared_code_digests() -> Dict[str, str]:
    """The sha256 the transform block declares for each file of CODE_FILES, in CODE_FILES order."""
    code = transform_block()["code"]
    return {name: code[name] for name in CODE_FILES}


def build_fingerprint(canonical_definition: bytes) -> str:
    """sha256 of the canonical definition JSON, a newline, then "<file>:<declared sha256>" lines of CODE_FILES;
    12 hex digits."""
    lines = [canonical_definition.decode("ascii")] + [f"{n}:{d}" for n, d in declared_code_digests().items()]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]
