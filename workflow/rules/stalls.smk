rule stall_figure:
    """Stall time per cause and feature (docs/stalls.md), over the per-feature metric table."""
    input:
        f"{RESULTS}/metrics.tsv",
    output:
        png=report(
            f"{RESULTS}/stalls.png",
            caption="../report/stalls.rst",
            category="Stalls",
            labels={"figure": "stall time per cause", "format": "png"},
        ),
        html=report(
            f"{RESULTS}/stalls.html",
            caption="../report/stalls.rst",
            category="Stalls",
            labels={"figure": "stall time per cause", "format": "html"},
        ),
    log:
        f"{RESULTS}/logs/stall_figure.log",
    benchmark:
        f"{RESULTS}/logs/stall_figure.benchmark.tsv"
    conda:
        "../envs/tcpscope.yaml"
    script:
        "../scripts/stall_figure.py"
