rule analyze:
    """Decode the capture and analyse its connections: Parquet tables + capture.json."""
    input:
        capture=capture_file,
    output:
        segments=f"{RESULTS}/{{capture}}/segments.parquet",
        flows=f"{RESULTS}/{{capture}}/flows.parquet",
        stalls=f"{RESULTS}/{{capture}}/stalls.parquet",
        info=report(
            f"{RESULTS}/{{capture}}/capture.json",
            caption="../report/capture.rst",
            category="Captures",
            subcategory="{capture}",
            labels={"capture": "{capture}", "file": "capture.json"},
        ),
    log:
        f"{RESULTS}/{{capture}}/logs/analyze.log",
    benchmark:
        f"{RESULTS}/{{capture}}/logs/analyze.benchmark.tsv"
    wildcard_constraints:
        capture=capture_regex(UNSHARDED),
    conda:
        "../envs/tcpscope.yaml"
    resources:
        mem_mb=mem_of(analyze_mem_mb),
        runtime=runtime_of(4),
    params:
        device=lambda wildcards: row(wildcards).device,
        server=lambda wildcards: row(wildcards).server,
        port=lambda wildcards: row(wildcards).port,
        direction=lambda wildcards: row(wildcards).direction,
        host=lambda wildcards: row(wildcards).host,
        stall_floor=config["stall_floor_ms"] / 1000,
    script:
        "../scripts/analyze.py"
