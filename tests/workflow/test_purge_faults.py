"""The data plane on the local stack under injected throttling: every unit of a vacuum-org plan
(plus a log group and incomplete multipart uploads) counted by a dry-run, then purged, chunk by
chunk from the checkpointed cursors, exactly what the seed wrote, with nothing outside the org
touched and verify (itself faulted) finding nothing left."""

from __future__ import annotations

import boto3

from g3n_ops.domain import purge, vacuum
from tests.vacuum_support import bucket_versions, log_streams, registry, table_keys

ORG = "TESTORG"
UPLOADS = 3


def _drain(unit, *, dry_run: bool, limits: purge.Limits) -> tuple[purge.Counts, int]:
    """Chunks from each checkpointed cursor until the unit is done: what the vacuum does."""
    total, cursor, chunks = purge.Counts(), None, 0
    while True:
        checkpointed: list = []

        def checkpoint(delta, at, done, seen=checkpointed):
            total.add(delta)
            seen.append(at)

        result = purge.run_chunk(unit, cursor, dry_run=dry_run, limits=limits, checkpoint=checkpoint)
        chunks += 1
        assert checkpointed[-1] == result.cursor
        if result.done:
            return total, chunks
        cursor = result.cursor


def test_a_dry_run_and_a_purge_under_throttling_count_exactly(
    seeded, local_stack, monkeypatch, compressed_retry_waits
):
    reg = registry()
    s3 = boto3.client("s3")
    bucket = next(b for s in reg.services if s.org_scoped for b in s.buckets)
    for n in range(UPLOADS):
        s3.create_multipart_upload(Bucket=bucket, Key=f"{ORG}/upload-{n}.bin")
    foreign_upload = s3.create_multipart_upload(Bucket=bucket, Key="testorg/keep.bin")["UploadId"]
    group = next(g for s in reg.services for g in s.log_groups)
    streams = len(log_streams(group))

    # One table per org lookup (index, partition, scan), the bucket, a log group: every code path,
    # few calls (each injected throttle costs botocore's own backoff, up to a second).
    plan = vacuum.build_plan(reg, "org", ORG, purge.Limits())
    by_lookup = {raw["lookup"]: raw for raw in plan["tables"]}
    units = [purge.UNIT.validate_python(raw) for raw in by_lookup.values()]
    tables = [t for s in reg.services for t in s.tables if t.name in {u.table for u in units}]
    before = {t.name: table_keys(t) for t in tables}, bucket_versions(bucket)
    units.append(purge.BucketUnit(service="bucket", bucket=bucket, orgcode=ORG))
    units.append(purge.LogGroupUnit(service="log", logGroup=group))
    limits = purge.Limits(chunk_items=20, flush_seconds=0.0, retry_seconds=60.0, settle_seconds=0.05)
    org_objects = seeded["buckets"][bucket][ORG]
    want = purge.Counts(
        items=sum(seeded["tables"][raw["table"]][ORG] for raw in by_lookup.values()),
        objects=org_objects["versions"] + org_objects["deleteMarkers"],
        bytes=org_objects["bytes"],
        uploads=UPLOADS,
        logStreams=streams,
    )

    local_stack.set_faults("throttle=0.3", seed=8)
    dry, deleted, chunks = purge.Counts(), purge.Counts(), 0
    for unit in units:
        dry.add(_drain(unit, dry_run=True, limits=limits)[0])
    dry_after = {t.name: table_keys(t) for t in tables}, bucket_versions(bucket)
    assert dry_after == before, "a dry-run deletes nothing"
    for unit in units:
        counts, used = _drain(unit, dry_run=False, limits=limits)
        deleted.add(counts)
        chunks += used
    left = [purge.remaining(unit, created_before_ms=2**62, limits=limits) for unit in units]
    injected = local_stack.fault_counts()
    local_stack.set_faults(None)

    assert dry == want and deleted == want, "counted once each, exactly what the seed wrote"
    assert chunks > len(units), "units went through several chunks, each from its checkpoint"
    assert left == [0] * len(units)
    assert injected.get("throttle", 0) > 20, injected
    assert len(by_lookup) == 3, "the seed's registry has every org lookup"
    for t in tables:
        assert table_keys(t) == {owner: keys for owner, keys in before[0][t.name].items() if owner != ORG}
    assert bucket_versions(bucket) == {owner: v for owner, v in before[1].items() if owner != ORG}
    remaining_uploads = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert [u["UploadId"] for u in remaining_uploads] == [foreign_upload], "only the org's uploads go"
