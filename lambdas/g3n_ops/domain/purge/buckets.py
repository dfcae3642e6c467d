"""S3: abort the unit's incomplete multipart uploads, then delete every object version and
delete marker under its prefix (DeleteObjects, 1,000 versions a call).

Uploads go first: a running upload completed later would otherwise leave an object behind.
Counts are what S3 confirmed: ``Deleted`` entries of a ``Quiet=False`` DeleteObjects (with the
listed sizes), uploads whose abort answered. A deleting chunk always starts listing from the
start of the prefix (what earlier chunks deleted is gone), so its checkpoint cursor is None;
a dry-run's cursor is the listing's markers and the phase it is in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from g3n_ops.aws import client, error_code
from g3n_ops.contract.errors import VacuumIncomplete, VacuumScopeViolation

from . import calls
from .counting import Checkpoint, ChunkResult, Clock, Counts, Limits
from .pipeline import Checkpoints, Page, finish, run
from .units import BucketUnit, Cursor

DELETE_OBJECTS_KEYS = 1000  # S3 DeleteObjects maximum
LIST_UPLOADS = 1000  # ListMultipartUploads maximum


def _in_scope(unit: BucketUnit, keys: list[str]) -> None:
    if any(not key.startswith(unit.prefix) for key in keys):
        raise VacuumScopeViolation(
            f"{unit.bucket}: listing '{unit.prefix}' returned a key outside it; nothing of it was deleted"
        )


def list_versions(
    unit: BucketUnit, markers: dict | None, *, budget: float, limit: int = DELETE_OBJECTS_KEYS
) -> dict:
    request: dict[str, Any] = {"Bucket": unit.bucket, "MaxKeys": limit}
    if unit.prefix:
        request["Prefix"] = unit.prefix
    if markers and markers.get("keyMarker"):
        request.update(KeyMarker=markers["keyMarker"], VersionIdMarker=markers["versionIdMarker"])
    response = calls.call(
        client("s3").list_object_versions,
        doing=f"listing s3://{unit.bucket}/{unit.prefix}",
        budget=budget,
        **request,
    )
    _in_scope(unit, [entry["Key"] for entry in versions_of(response)])
    return response


def versions_of(response: dict) -> list[dict]:
    """Versions and delete markers alike: each is deleted by its version id."""
    return [
        {"Key": entry["Key"], "VersionId": entry["VersionId"], "Size": entry.get("Size", 0)}
        for entry in [*response.get("Versions", []), *response.get("DeleteMarkers", [])]
    ]


def list_uploads(unit: BucketUnit, markers: dict | None, *, budget: float, limit: int = LIST_UPLOADS) -> dict:
    request: dict[str, Any] = {"Bucket": unit.bucket, "MaxUploads": limit}
    if unit.prefix:
        request["Prefix"] = unit.prefix
    if markers and markers.get("keyMarker"):
        request.update(KeyMarker=markers["keyMarker"], UploadIdMarker=markers["uploadIdMarker"])
    response = calls.call(
        client("s3").list_multipart_uploads,
        doing=f"listing uploads of s3://{unit.bucket}/{unit.prefix}",
        budget=budget,
        **request,
    )
    _in_scope(unit, [upload["Key"] for upload in response.get("Uploads", [])])
    return response


def delete_versions(bucket: str, versions: list[dict], budget: float) -> Counts:
    """One DeleteObjects (≤ 1,000 versions). Counts the ``Deleted`` entries; versions reported
    as transient errors are retried within the same budget; any other error stops the chunk."""
    sizes = {(entry["Key"], entry["VersionId"]): entry.get("Size", 0) for entry in versions}
    confirmed = Counts()
    doing = f"deleting objects of s3://{bucket}"

    def send(pending: list[dict], left: float) -> list[dict]:
        response = calls.call(
            client("s3").delete_objects,
            doing=doing,
            budget=left,
            Bucket=bucket,
            Delete={
                "Objects": [{"Key": e["Key"], "VersionId": e["VersionId"]} for e in pending],
                "Quiet": False,
            },
        )
        for deleted in response.get("Deleted", []):
            size = sizes.pop((deleted["Key"], deleted.get("VersionId")), None)
            if size is not None:  # each version counted once, whatever S3 echoes
                confirmed.add(Counts(objects=1, bytes=size))
        errors = response.get("Errors", [])
        permanent = [error for error in errors if not calls.is_transient_code(error.get("Code", ""))]
        if permanent:
            codes = sorted({error.get("Code", "?") for error in permanent})
            raise VacuumIncomplete(
                f"{bucket}: S3 refused to delete {len(permanent)} version(s) ({', '.join(codes)})"
            )
        failed = {(error["Key"], error.get("VersionId")) for error in errors}
        return [entry for entry in pending if (entry["Key"], entry["VersionId"]) in failed]

    with calls.reporting(confirmed):
        calls.until_done(send, versions, doing=doing, budget=budget)
    return confirmed


def abort_upload(bucket: str, uploads: list[dict], budget: float) -> Counts:
    aborted = Counts()
    with calls.reporting(aborted):
        for upload in uploads:
            try:
                calls.call(
                    client("s3").abort_multipart_upload,
                    doing=f"aborting an upload in s3://{bucket}",
                    budget=budget,
                    Bucket=bucket,
                    Key=upload["Key"],
                    UploadId=upload["UploadId"],
                )
            except ClientError as error:
                if error_code(error) != "NoSuchUpload":
                    raise
                continue  # already gone (completed or aborted elsewhere): not ours to count
            aborted.uploads += 1
    return aborted


def _upload_pages(unit: BucketUnit, cursor: Cursor, *, dry_run: bool, clock: Clock) -> Iterator[Page]:
    markers = cursor if dry_run and cursor and cursor.get("phase") == "uploads" else None
    read = 0
    while True:
        response = list_uploads(unit, markers, budget=clock.retry_budget(), limit=clock.page(LIST_UPLOADS))
        uploads = [{"Key": u["Key"], "UploadId": u["UploadId"]} for u in response.get("Uploads", [])]
        read += len(uploads)
        more = bool(response.get("IsTruncated")) and bool(uploads)
        markers = {
            "keyMarker": response.get("NextKeyMarker"),
            "uploadIdMarker": response.get("NextUploadIdMarker"),
        }
        page_cursor = None
        if dry_run:
            page_cursor = {"phase": "uploads", **markers} if more else {"phase": "versions"}
        yield Page(
            entries=[] if dry_run else uploads,
            counts=Counts(uploads=len(uploads)) if dry_run else Counts(),
            cursor=page_cursor,
            more=more,
            anchored=True,
        )
        if not more or clock.spent(read):
            return


def _version_pages(unit: BucketUnit, cursor: Cursor, *, dry_run: bool, clock: Clock) -> Iterator[Page]:
    markers = cursor if dry_run and cursor and cursor.get("phase") == "versions" else None
    read = 0
    while True:
        response = list_versions(
            unit, markers, budget=clock.retry_budget(), limit=clock.page(DELETE_OBJECTS_KEYS)
        )
        versions = versions_of(response)
        read += len(versions)
        more = bool(response.get("IsTruncated")) and bool(versions)
        markers = {
            "keyMarker": response.get("NextKeyMarker"),
            "versionIdMarker": response.get("NextVersionIdMarker"),
        }
        page_cursor = {"phase": "versions", **markers} if dry_run and more else None
        counts = Counts(objects=len(versions), bytes=sum(v["Size"] for v in versions))
        yield Page(
            entries=[] if dry_run else versions,
            counts=counts if dry_run else Counts(),
            cursor=page_cursor,
            more=more,
            anchored=True,
        )
        if not more or clock.spent(read):
            return


def bucket_chunk(
    unit: BucketUnit, cursor: Cursor, *, dry_run: bool, limits: Limits, checkpoint: Checkpoint
) -> ChunkResult:
    clock = Clock(limits)
    state = Checkpoints(checkpoint, clock, cursor if dry_run else None)
    name = unit.bucket
    if not (dry_run and cursor and cursor.get("phase") == "versions"):
        uploads_done = run(
            _upload_pages(unit, cursor, dry_run=dry_run, clock=clock),
            lambda uploads, budget: abort_upload(unit.bucket, uploads, budget),
            batch_size=1,
            state=state,
            name=name,
        )
        if not uploads_done:
            return finish(state, done=False)
    done = run(
        _version_pages(unit, state.cursor, dry_run=dry_run, clock=clock),
        lambda versions, budget: delete_versions(unit.bucket, versions, budget),
        batch_size=DELETE_OBJECTS_KEYS,
        state=state,
        name=name,
    )
    return finish(state, done=done)
