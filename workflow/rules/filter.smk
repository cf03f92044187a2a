rule filter:
    """The frames to or from the device: a capture file and a text listing."""
    input:
        capture=capture_file,
    output:
        capture=f"{RESULTS}/{{capture}}/{FILTERED}",
        text=report(
            f"{RESULTS}/{{capture}}/packets.txt",
            caption="../report/packets.rst",
            category="Captures",
            subcategory="{capture}",
            labels={"capture": "{capture}", "file": "packets.txt"},
        ),
    log:
        f"{RESULTS}/{{capture}}/logs/filter.log",
    benchmark:
        f"{RESULTS}/{{capture}}/logs/filter.benchmark.tsv"
    conda:
        "../envs/tcpscope.yaml"
    resources:
        mem_mb=mem_of(filter_mem_mb),
        runtime=runtime_of(10),
    params:
        device=lambda wildcards: row(wildcards).device,
    script:
        "../scripts/filter.py"
