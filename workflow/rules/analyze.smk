rule analyze:
    """Decode the capture and analyse its connections: Parquet tables + capture.json."""
    input:
        capture=capture_file,
    output:
        packets=f"{RESULTS}/{{capture}}/packets.parquet",
        segments=f"{RESULTS}/{{capture}}/segments.parquet",
        flows=f"{RESULTS}/{{capture}}/flows.parquet",
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
    conda:
        "../envs/tcpscope.yaml"
    params:
        device=lambda wildcards: row(wildcards).device,
        server=lambda wildcards: row(wildcards).server,
        port=lambda wildcards: row(wildcards).port,
        direction=lambda wildcards: row(wildcards).direction,
    script:
        "../scripts/analyze.py"
