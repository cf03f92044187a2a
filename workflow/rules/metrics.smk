rule capture_metrics:
    """The data-direction flows of one capture with the decoder's skipped counts."""
    input:
        flows=f"{RESULTS}/{{capture}}/flows.parquet",
        info=f"{RESULTS}/{{capture}}/capture.json",
    output:
        report(
            f"{RESULTS}/{{capture}}/metrics.tsv",
            caption="../report/capture_metrics.rst",
            category="Captures",
            subcategory="{capture}",
            labels={"capture": "{capture}", "file": "metrics.tsv"},
        ),
    log:
        f"{RESULTS}/{{capture}}/logs/capture_metrics.log",
    benchmark:
        f"{RESULTS}/{{capture}}/logs/capture_metrics.benchmark.tsv"
    conda:
        "../envs/tcpscope.yaml"
    params:
        capture="{capture}",
        feature=lambda wildcards: row(wildcards).feature,
    script:
        "../scripts/capture_metrics.py"


rule metrics:
    """One row per feature: summed counts, recomputed rates (docs/metrics.md)."""
    input:
        expand(f"{RESULTS}/{{capture}}/metrics.tsv", capture=CAPTURES),
    output:
        tsv=report(
            f"{RESULTS}/metrics.tsv",
            caption="../report/metrics.rst",
            category="Metrics",
            labels={"table": "per feature", "format": "TSV"},
        ),
        md=report(
            f"{RESULTS}/metrics.md",
            caption="../report/metrics.rst",
            category="Metrics",
            labels={"table": "per feature", "format": "Markdown"},
        ),
    log:
        f"{RESULTS}/logs/metrics.log",
    benchmark:
        f"{RESULTS}/logs/metrics.benchmark.tsv"
    conda:
        "../envs/tcpscope.yaml"
    script:
        "../scripts/metrics.py"
