# Captures larger than `shard_above_mb` (config.yaml): decoded once, split by connection
# into `shards` shards analysed as separate jobs, then merged into the same outputs the
# `analyze` rule writes for a smaller capture (tcpscope.shard; tests/test_shard.py).
# shard_merge takes its outputs and parameters from `analyze`, so the two stay in step.


rule shard_split:
    """Decode a large capture and split its packets by connection into shards."""
    input:
        capture=capture_file,
    output:
        packets=temp(f"{RESULTS}/{{capture}}/shards/packets.parquet"),
        info=temp(f"{RESULTS}/{{capture}}/shards/decoded.json"),
        origin=temp(f"{RESULTS}/{{capture}}/shards/origin.json"),
        context=temp(f"{RESULTS}/{{capture}}/shards/context.json"),
        shards=temp(
            [
                f"{RESULTS}/{{capture}}/shards/{i}/packets.parquet"
                for i in range(SHARDS)
            ]
        ),
    log:
        f"{RESULTS}/{{capture}}/logs/shard_split.log",
    benchmark:
        f"{RESULTS}/{{capture}}/logs/shard_split.benchmark.tsv"
    wildcard_constraints:
        capture=capture_regex(SHARDED),
    conda:
        "../envs/tcpscope.yaml"
    resources:
        mem_mb=mem_of(split_mem_mb),
        runtime=runtime_of(20),
    params:
        server=lambda wildcards: row(wildcards).server,
        port=lambda wildcards: row(wildcards).port,
    script:
        "../scripts/shard_split.py"


rule shard_analyze:
    """Analyse the connections of one shard (times from the whole capture's origin, and
    what a connection takes from the others from the whole capture's context)."""
    input:
        packets=f"{RESULTS}/{{capture}}/shards/{{shard}}/packets.parquet",
        origin=f"{RESULTS}/{{capture}}/shards/origin.json",
        context=f"{RESULTS}/{{capture}}/shards/context.json",
    output:
        segments=temp(f"{RESULTS}/{{capture}}/shards/{{shard}}/segments.parquet"),
        flows=temp(f"{RESULTS}/{{capture}}/shards/{{shard}}/flows.parquet"),
    log:
        f"{RESULTS}/{{capture}}/logs/shard_analyze.{{shard}}.log",
    benchmark:
        f"{RESULTS}/{{capture}}/logs/shard_analyze.{{shard}}.benchmark.tsv"
    wildcard_constraints:
        capture=capture_regex(SHARDED),
        shard=r"\d+",
    conda:
        "../envs/tcpscope.yaml"
    resources:
        mem_mb=shard_mem,
        runtime=lambda wildcards, attempt: runtime_min(
            data_bytes(wildcards) // SHARDS, 4
        )
        * attempt,
    params:
        device=lambda wildcards: row(wildcards).device,
        server=lambda wildcards: row(wildcards).server,
        port=lambda wildcards: row(wildcards).port,
        direction=lambda wildcards: row(wildcards).direction,
    script:
        "../scripts/shard_analyze.py"


rule shard_merge:
    """Merge the shards' analyses; the rest as in `analyze` (labels, outputs)."""
    input:
        capture=capture_file,
        packets=f"{RESULTS}/{{capture}}/shards/packets.parquet",
        info=f"{RESULTS}/{{capture}}/shards/decoded.json",
        segments=[
            f"{RESULTS}/{{capture}}/shards/{i}/segments.parquet" for i in range(SHARDS)
        ],
        flows=[f"{RESULTS}/{{capture}}/shards/{i}/flows.parquet" for i in range(SHARDS)],
    output:
        **rules.analyze.output,
    log:
        f"{RESULTS}/{{capture}}/logs/shard_merge.log",
    benchmark:
        f"{RESULTS}/{{capture}}/logs/shard_merge.benchmark.tsv"
    wildcard_constraints:
        capture=capture_regex(SHARDED),
    conda:
        "../envs/tcpscope.yaml"
    resources:
        mem_mb=mem_of(merge_mem_mb),
        runtime=runtime_of(10),
    params:
        **rules.analyze.params,
    script:
        "../scripts/shard_merge.py"
