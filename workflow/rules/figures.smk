rule figures:
    """Time-sequence (stalls shaded) and bytes-in-flight figures of one capture (PNG + offline HTML)."""
    input:
        segments=f"{RESULTS}/{{capture}}/segments.parquet",
        flows=f"{RESULTS}/{{capture}}/flows.parquet",
        stalls=f"{RESULTS}/{{capture}}/stalls.parquet",
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
    resources:
        mem_mb=mem_of(figures_mem_mb),
        runtime=runtime_of(4),
    params:
        title=lambda wildcards: f"{row(wildcards).feature} ({wildcards.capture})",
    script:
        "../scripts/figures.py"
