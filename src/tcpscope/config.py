"""Load and validate the workflow configuration (`config.yaml`) and the captures table.

The captures table is a TSV file with a header row and the columns

    capture    file name inside `capture_dir` (no directory part)
    feature    the app feature the capture exercises (rows are grouped by it)
    device     IP address of the device under test (required)
    server     IP address of the server (blank: every peer)
    port       server TCP port 1-65535 (blank: any)
    direction  `up` | `down` | blank (= `auto`, decided per flow)
    host       glob of the server's host name (TLS SNI or HTTP Host), e.g. `*.qpic.cn`
               (blank: any); names the server instead of, or on top of, `server`

Extra columns are allowed and ignored. Each row is checked against
`workflow/schemas/captures.schema.yaml` (the same schema the Snakefile hands to
`snakemake.utils.validate`), then for what a schema cannot express: the file exists,
the IP addresses parse, capture names are unique, a name has no path separator.
Every problem is a `ConfigError` naming the table, the row and the column.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import jsonschema
import polars as pl
import yaml

from tcpscope.errors import ConfigError

#: Default schema directory: `workflow/schemas` of the source tree this module lives in.
SCHEMA_DIR: Path = Path(__file__).resolve().parents[2] / "workflow" / "schemas"

COLUMNS: tuple[str, ...] = ("capture", "feature", "device", "server", "port", "direction", "host")
REQUIRED_COLUMNS: tuple[str, ...] = ("capture", "feature", "device")

#: Extensions stripped (in this order, repeatedly) to turn a file name into a capture name.
CAPTURE_SUFFIXES: tuple[str, ...] = (".gz", ".pcapng", ".pcap", ".cap", ".dmp", ".ntar")

#: Names that would collide with the aggregate outputs in the results directory.
RESERVED_NAMES: frozenset[str] = frozenset({"metrics.tsv", "metrics.md", "logs", "benchmarks"})

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


@dataclass(frozen=True)
class Capture:
    """One validated row of the captures table."""

    name: str  # results/{name}/...: the file name without capture extensions, sanitised
    capture: str  # file name as written in the table
    path: Path  # capture_dir / capture
    feature: str
    device: str  # canonical text form (ipaddress)
    server: str | None
    port: int | None
    direction: str  # "up", "down" or "auto"
    row: int  # 1-based data row in the table (the header is not counted)
    host: str | None = None  # glob of the server's TLS SNI / HTTP Host (labels.match_host)


@dataclass(frozen=True)
class WorkflowConfig:
    """config.yaml after validation, with the captures table loaded."""

    captures_table: Path
    capture_dir: Path
    results: Path
    captures: dict[str, Capture]  # by capture name, in table order


def capture_name(file_name: str) -> str:
    """Wildcard-safe capture name: the file name without capture extensions.

    `wechat_send_video.pcap` -> `wechat_send_video`, `x.pcap.gz` -> `x`; characters other
    than letters, digits and `._+-` become `_`.
    """
    name = file_name
    changed = True
    while changed:
        changed = False
        for suffix in CAPTURE_SUFFIXES:
            if name.lower().endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                changed = True
    return _UNSAFE.sub("_", name)


def _load_schema(name: str, schema_dir: Path | None) -> dict[str, Any]:
    path = (schema_dir or SCHEMA_DIR) / name
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read schema: {exc.strerror}") from exc


def _schema_message(err: jsonschema.ValidationError) -> tuple[str | None, str]:
    """(column or key, message) for a schema error."""
    column: str | None = str(err.path[0]) if err.path else None
    if err.validator == "required" and column is None:
        missing = re.search(r"'([^']+)' is a required property", err.message)
        return (missing.group(1) if missing else None), "required value is missing"
    if err.validator == "additionalProperties":
        return None, err.message
    if err.validator == "enum":
        allowed = ", ".join(repr(v) for v in err.validator_value)
        return column, f"{err.instance!r} is not one of {allowed}"
    if err.validator == "pattern" and column == "capture":
        return column, f"{err.instance!r} must be a file name without a directory part"
    if err.validator == "pattern" and column == "host":
        return column, (
            f"{err.instance!r} is not a host name pattern (letters, digits, '-', '.', '_' "
            "and the glob characters '*', '?', '[...]')"
        )
    if err.validator in ("minimum", "maximum"):
        return column, f"{err.instance!r} is out of range (1-65535)"
    if err.validator == "type" and column == "port":
        return column, f"{err.instance!r} is not an integer"
    return column, err.message


def validate_config(config: dict[str, Any], schema_dir: Path | None = None) -> dict[str, Any]:
    """Check a config mapping against `config.schema.yaml`; returns it with defaults filled."""
    schema = _load_schema("config.schema.yaml", schema_dir)
    if not isinstance(config, dict):
        raise ConfigError("config.yaml: expected a mapping of keys to values")
    filled = dict(config)
    for key, sub in schema.get("properties", {}).items():
        if "default" in sub:
            filled.setdefault(key, sub["default"])
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(filled), key=lambda e: list(e.path)
    )
    if errors:
        key, message = _schema_message(errors[0])
        where = f"key '{key}'" if key else "top level"
        raise ConfigError(f"config.yaml: {where}: {message}")
    return filled


def load_config(path: str | Path, schema_dir: Path | None = None) -> WorkflowConfig:
    """Load config.yaml and the captures table it names.

    Relative paths in the config are taken relative to the directory holding config.yaml
    (the repository root, where snakemake runs).
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return workflow_config(raw, base=path.parent, schema_dir=schema_dir)


def workflow_config(
    config: dict[str, Any], base: Path | None = None, schema_dir: Path | None = None
) -> WorkflowConfig:
    """Validate a config mapping (as snakemake holds it) and load its captures table."""
    cfg = validate_config(config, schema_dir)
    base = base or Path.cwd()
    table = base / cfg["captures"]
    capture_dir = base / cfg["capture_dir"]
    results = base / cfg["results"]
    captures = load_captures(table, capture_dir, schema_dir)
    return WorkflowConfig(table, capture_dir, results, captures)


def _read_table(table: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line number, cells) of the data rows; blank and `#` lines are skipped."""
    try:
        with open(table, encoding="utf-8", newline="") as fh:
            lines = fh.read().splitlines()
    except OSError as exc:
        raise ConfigError(f"{table}: cannot read the captures table: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{table}: not UTF-8 text: {exc}") from exc
    numbered = [(i + 1, line) for i, line in enumerate(lines)]
    numbered = [(n, line) for n, line in numbered if line.strip() and not line.startswith("#")]
    if not numbered:
        raise ConfigError(f"{table}: the captures table is empty (no header row)")
    parsed = [(n, line.split("\t")) for n, line in numbered]
    header = [c.strip() for c in parsed[0][1]]
    return header, parsed[1:]


def load_captures(
    table: str | Path, capture_dir: str | Path, schema_dir: Path | None = None
) -> dict[str, Capture]:
    """Load and validate the captures table; returns rows by capture name, in table order."""
    table, capture_dir = Path(table), Path(capture_dir)
    schema = _load_schema("captures.schema.yaml", schema_dir)
    validator = jsonschema.Draft202012Validator(schema)
    header, rows = _read_table(table)

    for column in REQUIRED_COLUMNS:
        if column not in header:
            raise ConfigError(f"{table}: header row: column '{column}' is missing")
    dupes = {c for c in header if header.count(c) > 1}
    if dupes:
        raise ConfigError(f"{table}: header row: column '{sorted(dupes)[0]}' appears twice")
    if not rows:
        raise ConfigError(f"{table}: no captures listed (only a header row)")

    out: dict[str, Capture] = {}
    seen_files: dict[str, int] = {}
    for index, (line, cells) in enumerate(rows, start=1):

        def fail(
            column: str | None, message: str, index: int = index, line: int = line
        ) -> NoReturn:
            col = f", column '{column}'" if column else ""
            raise ConfigError(f"{table}: row {index} (line {line}){col}: {message}")

        if len(cells) > len(header):
            fail(None, f"{len(cells)} cells but the header has {len(header)} columns")
        values = dict(zip(header, (c.strip() for c in cells)))
        record: dict[str, Any] = {k: values[k] for k in COLUMNS if values.get(k, "") != ""}
        if "port" in record and re.fullmatch(r"[0-9]+", record["port"]):
            record["port"] = int(record["port"])
        errors = sorted(
            validator.iter_errors(record),
            key=lambda e: (
                COLUMNS.index(str(e.path[0])) if e.path and str(e.path[0]) in COLUMNS else -1
            ),
        )
        if errors:
            fail(*_schema_message(errors[0]))

        file_name = record["capture"]
        name = capture_name(file_name)
        if file_name in seen_files:
            fail("capture", f"{file_name!r} is listed twice (also row {seen_files[file_name]})")
        if name in out:
            fail(
                "capture",
                f"{file_name!r} gives the same capture name {name!r} as row "
                f"{out[name].row} ({out[name].capture!r})",
            )
        if name in RESERVED_NAMES or name.startswith("."):
            fail("capture", f"capture name {name!r} is reserved; rename the file")
        seen_files[file_name] = index

        addresses: dict[str, str | None] = {}
        for column in ("device", "server"):
            text = record.get(column)
            if text is None:
                addresses[column] = None
                continue
            try:
                addresses[column] = str(ipaddress.ip_address(text))
            except ValueError:
                fail(column, f"{text!r} is not an IPv4 or IPv6 address")
        if addresses["server"] is not None and addresses["server"] == addresses["device"]:
            fail("server", "the server address is the device address")

        path = capture_dir / file_name
        if not path.is_file():
            fail("capture", f"file not found: {path}")

        out[name] = Capture(
            name=name,
            capture=file_name,
            path=path,
            feature=record["feature"],
            device=addresses["device"] or "",
            server=addresses["server"],
            port=record.get("port"),
            direction=record.get("direction", "auto"),
            row=index,
            host=record.get("host"),
        )
    return out


def captures_frame(captures: dict[str, Capture]) -> pl.DataFrame:
    """The table as a polars frame in the schema's shape (blank = null), for
    `snakemake.utils.validate` and for display."""
    rows = list(captures.values())
    return pl.DataFrame(
        {
            "capture": [c.capture for c in rows],
            "feature": [c.feature for c in rows],
            "device": [c.device for c in rows],
            "server": [c.server for c in rows],
            "port": [c.port for c in rows],
            "direction": [c.direction for c in rows],
            "host": [c.host for c in rows],
        },
        schema={
            "capture": pl.Utf8,
            "feature": pl.Utf8,
            "device": pl.Utf8,
            "server": pl.Utf8,
            "port": pl.Int64,
            "direction": pl.Utf8,
            "host": pl.Utf8,
        },
    )
