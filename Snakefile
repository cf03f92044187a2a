"""tcpscope: per-capture TCP analysis, metric tables and figures for every capture
listed in the captures table (config.yaml -> captures). See README.md."""

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"


rule all:
    default_target: True
    input:
        f"{RESULTS}/metrics.tsv",
        f"{RESULTS}/metrics.md",
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
include: "workflow/rules/metrics.smk"
include: "workflow/rules/figures.smk"
