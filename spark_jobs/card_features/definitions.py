"""Feature versions, loaded from definitions.json: the single place where versions are defined.

The JSON is read with pkgutil so it also works when this package ships as a zip (--py-files on EMR).
"""
import hashlib
import json
import pkgutil
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet

VERSION_PATTERN = re.compile(r"^v\d+(\.\d+)?$")


class UnknownFeatureVersion(ValueError):
    pass


@dataclass(frozen=True)
class FeatureDefinition:
    version: str
    description: str
    counted_statuses: FrozenSet[str]
    window_1h_seconds: int
    window_24h_seconds: int
    # Short hash of this version's definition, recorded in manifests so a change is visible.
    fingerprint: str

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
            f"feature version {version!r} is not of the form v<major> or v<major>.<minor>"
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
        version=version,
        description=entry["description"],
        counted_statuses=frozenset(entry["counted_statuses"]),
        window_1h_seconds=int(windows["1h"]),
        window_24h_seconds=int(windows["24h"]),
        fingerprint=hashlib.sha256(canonical).hexdigest()[:12],
    )
