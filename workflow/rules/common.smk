"""Shared definitions: the validated captures table, paths and input functions."""

import re
from pathlib import Path

from snakemake.exceptions import WorkflowError
from tcpscope.config import captures_frame, workflow_config
from tcpscope.errors import ConfigError
from tcpscope.figures import figure_names

SCHEMAS = Path(workflow.basedir) / "workflow" / "schemas"

try:
    WORKFLOW = workflow_config(config, base=Path(), schema_dir=SCHEMAS)
except ConfigError as exc:
    raise WorkflowError(f"invalid configuration: {exc}") from None

# set_default=False: snakemake's default filling indexes columns by position and breaks
# on a column that is blank in every row (e.g. `host`); the schema has no defaults anyway.
validate(
    captures_frame(WORKFLOW.captures),
    "../schemas/captures.schema.yaml",
    set_default=False,
)

RESULTS = config["results"].rstrip("/")
CAPTURES = list(WORKFLOW.captures)
FIGURES = figure_names()
# One name whatever the container: tcpscope.filtering writes classic pcap, or pcapng
# when the input mixes link types or timestamp resolutions; Wireshark, tshark, tcpdump
# and tcpscope tell them apart by their magic number, not by the extension.
FILTERED = "filtered.pcap"


wildcard_constraints:
    capture="|".join(re.escape(name) for name in CAPTURES),


def capture_file(wildcards):
    """The capture file behind results/{capture}/..."""
    return str(WORKFLOW.captures[wildcards.capture].path)


def row(wildcards):
    """The captures-table row of {capture}."""
    return WORKFLOW.captures[wildcards.capture]
