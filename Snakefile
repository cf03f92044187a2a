"""tcpscope: per-capture TCP analysis, metric tables and figures for every capture
listed in the captures table (config.yaml -> captures). See README.md."""

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/sizing.smk"


# tiny table jobs run where Snakemake runs, not as cluster jobs (each would wait in the queue
# longer than it runs); the decode, analysis and figure jobs go to the executor
localrules:
    all,
    capture_metrics,
    metrics,
    index,


rule all:
    default_target: True
    input:
        f"{RESULTS}/metrics.tsv",
        f"{RESULTS}/metrics.md",
        f"{RESULTS}/stalls.png",
        f"{RESULTS}/stalls.html",
        f"{RESULTS}/index.html",
        expand(f"{RESULTS}/{{capture}}/packets.txt", capture=CAPTURES),
        expand(f"{RESULTS}/{{capture}}/{FILTERED}", capture=CAPTURES),
        expand(
            f"{RESULTS}/{{capture}}/figures/{{name}}.{{ext}}",
            capture=CAPTURES,
            name=FIGURES,
            ext=["png", "html"],
        ),


include: "workflow/rules/filter.smk"
include: "workflow/rules/analyze.smk"
include: "workflow/rules/shard.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/stalls.smk"
include: "workflow/rules/report.smk"
