"""What the job shares with the TypeScript worker, read from contract.json (as definitions.py reads
definitions.json): lake path templates, the gold and offline-store schemas, the ledger record shapes.

src/common/lake-contract.ts reads the same file; test/contract.test.ts checks both sides resolve alike.
"""
import json
import pkgutil
import re
from typing import Dict, List

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _load() -> dict:
    data = pkgutil.get_data(__name__.rsplit(".", 1)[0], "contract.json")
    if data is None:
        raise RuntimeError("card_features/contract.json is missing from the package")
    return json.loads(data)


CONTRACT = _load()
PATHS: Dict[str, str] = {k: v for k, v in CONTRACT["paths"].items() if isinstance(v, str)}
DEFAULT_PREFIXES: Dict[str, str] = dict(CONTRACT["paths"]["default_prefixes"])


def path(name: str, **values: str) -> str:
    """The path template `name` with each {placeholder} replaced; a placeholder without a value is an error."""
    template = PATHS[name]

    def fill(m: "re.Match[str]") -> str:
        if m.group(1) not in values:
            raise KeyError(f"contract path {name!r} needs a value for {{{m.group(1)}}}")
        return str(values[m.group(1)])

    return _PLACEHOLDER.sub(fill, template)


_SCHEMAS = CONTRACT["schemas"]
# Gold file columns with their types (Spark's simple strings, also Hive's): keys, then the features.
GOLD_FILE_TYPES: Dict[str, str] = {c["name"]: c["type"] for c in _SCHEMAS["gold_keys"] + _SCHEMAS["features"]}
FEATURE_COLUMNS: List[str] = [c["name"] for c in _SCHEMAS["features"]]
GOLD_PARTITIONS: List[str] = list(_SCHEMAS["gold_partitions"])
GOLD_RUN_PARTITION: str = _SCHEMAS["gold_run_partition"]
# Gold as a frame: the file columns, then the partition columns.
GOLD_COLUMNS: List[str] = list(GOLD_FILE_TYPES) + GOLD_PARTITIONS
# A Feature Store record's features: the gold file columns, then feature_version.
RECORD_FEATURES: List[str] = list(GOLD_FILE_TYPES) + [c["name"] for c in _SCHEMAS["record_extra_features"]]
_STORE_TYPES = ("String", "Integral", "Fractional")


def _feature_store_types() -> Dict[str, str]:
    """Each record feature's Feature Store type, in RECORD_FEATURES order; one without a type is an error."""
    out = {}
    for c in _SCHEMAS["gold_keys"] + _SCHEMAS["features"] + _SCHEMAS["record_extra_features"]:
        if c.get("feature_store_type") not in _STORE_TYPES:
            raise ValueError(f"contract.json: feature {c['name']} needs a feature_store_type ({', '.join(_STORE_TYPES)})")
        out[c["name"]] = c["feature_store_type"]
    return out


# As lake-contract.ts FEATURE_STORE_TYPES: what the feature group must define.
FEATURE_STORE_TYPES: Dict[str, str] = _feature_store_types()
OFFLINE_STORE_ADDED: List[str] = list(_SCHEMAS["offline_store_added"])
OFFLINE_STORE_PARTITIONS: List[str] = list(_SCHEMAS["offline_store_partitions"])
# A row of the offline store's layout: the record's features, the columns SageMaker adds, the partitions.
OFFLINE_STORE_COLUMNS: List[str] = RECORD_FEATURES + OFFLINE_STORE_ADDED + OFFLINE_STORE_PARTITIONS

_RECORDS = CONTRACT["records"]
LEDGER_VERSION: int = _RECORDS["gold_commit"]["ledger_version"]
GOLD_COMMIT_FIELDS: List[str] = list(_RECORDS["gold_commit"]["fields"])
PUBLICATION_FIELDS: List[str] = list(_RECORDS["publication"]["fields"])


def new_publication(commit: Dict, values: Dict) -> Dict:
    """A publication record of the commit's gold, nothing acknowledged yet, its fields in the contract's order:
    the commit's (from_commit), the contract's initial ones, then `values` (feature_group, feature_version,
    published_by, published_with, target_stores, batch_size). A field left without a value is an error."""
    spec = _RECORDS["publication"]
    given = {**{k: commit[src] for k, src in spec["from_commit"].items()}, **spec["initial"], **values}
    missing = [f for f in PUBLICATION_FIELDS if f not in given]
    if missing:
        raise KeyError(f"publication record lacks {', '.join(missing)}")
    out = {f: given[f] for f in PUBLICATION_FIELDS}
    out["acked_ahead"] = list(out["acked_ahead"])
    return out
