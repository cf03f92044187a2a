rule figures:
    """Time-sequence and bytes-in-flight figures of one capture (PNG + offline HTML)."""
    input:
        segments=f"{RESULTS}/{{capture}}/segments.parquet",
        flows=f"{RESULTS}/{{capture}}/flows.parquet",
    output:
        [
            report(
                f"{RESULTS}/{{capture}}/figures/{name}.{ext}",
                caption="../report/figures.rst",
                category="Figures",
                subcategory="{capture}",
                labels={"capture": "{capture}", "figure": name, "format": ext},
            )
            for name in FIGURES
            for ext in ("png", "html")
        ],
    log:
        f"{RESULTS}/{{capture}}/logs/figures.log",
    benchmark:
        f"{RESULTS}/{{capture}}/logs/figures.benchmark.tsv"
    conda:
        "../envs/tcpscope.yaml"
    params:
        title=lambda wildcards: f"{row(wildcards).feature} ({wildcards.capture})",
    script:
        "../scripts/figures.py"
