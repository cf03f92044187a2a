rule index:
    """results/index.html: one offline page for the study (tcpscope.report)."""
    input:
        metrics=f"{RESULTS}/metrics.tsv",
        flows=expand(f"{RESULTS}/{{capture}}/flows.parquet", capture=CAPTURES),
        info=expand(f"{RESULTS}/{{capture}}/capture.json", capture=CAPTURES),
        filtered=expand(f"{RESULTS}/{{capture}}/{FILTERED}", capture=CAPTURES),
        listing=expand(f"{RESULTS}/{{capture}}/packets.txt", capture=CAPTURES),
        figures=expand(
            f"{RESULTS}/{{capture}}/figures/{{name}}.{{ext}}",
            capture=CAPTURES,
            name=FIGURES,
            ext=["png", "html"],
        ),
        # study-level figures of other rules, linked from the page when the rule exists
        study=(
            [f"{RESULTS}/stalls.png", f"{RESULTS}/stalls.html"]
            if hasattr(rules, "stall_figure")
            else []
        ),
    output:
        report(
            f"{RESULTS}/index.html",
            caption="../report/index.rst",
            category="Overview",
            labels={"page": "index.html"},
        ),
    log:
        f"{RESULTS}/logs/index.log",
    benchmark:
        f"{RESULTS}/logs/index.benchmark.tsv"
    conda:
        "../envs/tcpscope.yaml"
    params:
        captures=[
            {
                "name": c.name,
                "feature": c.feature,
                "capture": c.capture,
                "device": c.device,
                "server": c.server,
                "port": c.port,
                "host": c.host,
                "direction": c.direction,
            }
            for c in WORKFLOW.captures.values()
        ],
    script:
        "../scripts/index.py"
