"""Archive and restore of a workspace's home volume through an S3 store.

The storage job of the workspace agent (docs: images/storage-job/README.md).
The agent runs this image as a Kubernetes Job with the volume at /data and
the environment below; `archive` and `restore` are the two entry points.

Objects, for S3_PREFIX P, workspace W and operation O:
  P W/O/home.tar.zst        zstd of a tar of the volume root (members ./...)
  P W/O/home.tar.zst.meta   one line "sha256:<hex of the .zst>", uploaded
                            last: an archive counts only when it exists
  P W/O/.error              archive failure: {status, operation, archive_op_id,
                            error_code, error_at}
  P W/.restore_marker       {restore_op_id, archive_key, restored_at}
  P W/.restore_error        restore failure
  P W/.volume_origin        {kind: "restored", source_archive_key, ...}

Why boto3: it streams a pipe into a multipart upload (no copy of the archive
on disk, parts retried on their own, the upload aborted on failure so no
half-written object appears), and downloads in ranged parts with retries.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from typing import BinaryIO

DATA = os.environ.get("STORAGE_JOB_DATA_DIR", "/data")
# Restore unpacks here (on the volume itself, so its size is the volume's
# limit, not the node's ephemeral storage) and never syncs it into place.
STAGING_NAME = ".codehub-restore-staging"
# ext4 volumes have it, owned by root: unreadable for uid 1000, never ours.
NOT_OURS = {STAGING_NAME, "lost+found"}
# Multipart parts of a streamed upload are held in memory: 16 MiB parts, at
# most 4 in memory, keep the job under ~160 MiB whatever the volume's size
# (s3transfer's defaults, 10 parts in memory, had it killed at 512 MiB with
# 64 MiB parts). 10,000 parts of 16 MiB: archives up to 160 GB.
PART_SIZE = 16 * 1024 * 1024
PARTS_IN_MEMORY = 4

# error_code in the .error / .restore_error markers, and the exit status.
E_CONFIG = 2  # the environment is incomplete or contradicts itself
E_S3 = 3  # the store refused or failed a request
E_TAR = 4  # tar or zstd failed (reading the volume, or unpacking)
E_CHECKSUM = 5  # the archive's sha256 differs from its .meta
E_SYNC = 6  # putting the unpacked tree in place failed
E_INTERNAL = 1


class JobError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def log(message: str) -> None:
    print(f"[storage-job] {message}", file=sys.stderr, flush=True)


def now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def env(name: str, required: bool = True) -> str:
    value = os.environ.get(name, "")
    if required and not value:
        raise JobError(E_CONFIG, f"{name} is not set; the agent passes it to every storage job")
    return value


def parse_s3_url(url: str) -> tuple[str, str]:
    if not url.startswith("s3://") or "/" not in url[5:]:
        raise JobError(E_CONFIG, f"ARCHIVE_URL must be s3://bucket/key, got {url!r}")
    bucket, key = url[5:].split("/", 1)
    if not bucket or not key:
        raise JobError(E_CONFIG, f"ARCHIVE_URL must be s3://bucket/key, got {url!r}")
    return bucket, key


class Store:
    """The few S3 calls the jobs make, with errors that say what was asked."""

    def __init__(self, bucket: str):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.endpoint = env("AWS_ENDPOINT_URL")
        # Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
        # (boto3 reads them itself: they never pass through argv or logs).
        env("AWS_ACCESS_KEY_ID")
        env("AWS_SECRET_ACCESS_KEY")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=region,
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                retries={"max_attempts": 5, "mode": "standard"},
                connect_timeout=10,
                read_timeout=120,
            ),
        )
        from boto3.s3.transfer import TransferConfig

        self.transfer = TransferConfig(multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=PARTS_IN_MEMORY)
        # boto3 1.26 (bookworm) does not take it as an argument; its
        # s3transfer reads it from the config all the same.
        self.transfer.max_in_memory_upload_chunks = PARTS_IN_MEMORY

    def _fail(self, what: str, key: str, error: Exception) -> JobError:
        return JobError(E_S3, f"{what} s3://{self.bucket}/{key} at {self.endpoint}: {error}")

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._fail("HEAD", key, error) from error
        except Exception as error:
            raise self._fail("HEAD", key, error) from error

    def get_text(self, key: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read().decode("utf-8")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._fail("GET", key, error) from error
        except Exception as error:
            raise self._fail("GET", key, error) from error

    def put_text(self, key: str, text: str, content_type: str = "application/json") -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"), ContentType=content_type)
        except Exception as error:
            raise self._fail("PUT", key, error) from error

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except Exception as error:
            raise self._fail("DELETE", key, error) from error

    def upload_stream(self, stream: BinaryIO, key: str) -> None:
        try:
            self.client.upload_fileobj(stream, self.bucket, key, Config=self.transfer)
        except JobError:
            raise
        except Exception as error:
            raise self._fail("upload to", key, error) from error

    def download(self, key: str, path: str) -> None:
        try:
            self.client.download_file(self.bucket, key, path, Config=self.transfer)
        except Exception as error:
            raise self._fail("download of", key, error) from error


class HashingReader:
    """Hands a pipe to the uploader and hashes every byte it reads."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.sha256 = hashlib.sha256()
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        chunk = self.stream.read(n)
        self.sha256.update(chunk)
        self.size += len(chunk)
        return chunk


def sha256_of(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def peak_memory_mib() -> int:
    import resource

    # ru_maxrss is in KiB on Linux; the job's own process (tar, zstd and rsync are small).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def tar_excludes() -> list[str]:
    # Sockets cannot be archived or restored; the staging dir and lost+found
    # are not the workspace's.
    return ["--exclude=*.sock", "--exclude=*.socket", *(f"--exclude=./{name}" for name in sorted(NOT_OURS))]


# ---------------------------------------------------------------------------


def archive() -> int:
    url = env("ARCHIVE_URL")
    bucket, key = parse_s3_url(url)
    op = env("ARCHIVE_OP_ID")
    workspace = env("WORKSPACE_ID")
    expected_bucket = env("S3_BUCKET", required=False)
    if expected_bucket and expected_bucket != bucket:
        raise JobError(E_CONFIG, f"ARCHIVE_URL names bucket {bucket!r} but S3_BUCKET is {expected_bucket!r}")
    error_key = f"{key.rsplit('/', 1)[0]}/.error" if "/" in key else ".error"
    meta_key = f"{key}.meta"
    store = Store(bucket)
    log(f"archive of workspace {workspace}, op {op}: {DATA} -> s3://{bucket}/{key}")
    try:
        if store.exists(key) and store.exists(meta_key):
            log(f"s3://{bucket}/{key} and its .meta exist: this archive is done, nothing to do")
            return 0
        digest, size = upload_volume(store, key)
        # The commit marker, last: until it exists the archive does not count.
        store.put_text(meta_key, f"sha256:{digest}\n", "text/plain")
        store.delete(error_key)
        log(f"archived {size} bytes, sha256:{digest} (peak memory {peak_memory_mib()} MiB)")
        return 0
    except Exception as error:
        return report_failure(store, error_key, as_job_error(error), {"operation": "archive", "archive_op_id": op})


def upload_volume(store: Store, key: str) -> tuple[str, int]:
    if not os.path.isdir(DATA):
        raise JobError(E_CONFIG, f"{DATA} is not a directory: the job must mount the workspace volume there")
    tar = subprocess.Popen(
        ["tar", "--create", "--file=-", f"--directory={DATA}", "--numeric-owner", *tar_excludes(), "."],
        stdout=subprocess.PIPE,
    )
    zstd = subprocess.Popen(["zstd", "--quiet", "--stdout"], stdin=tar.stdout, stdout=subprocess.PIPE)
    assert tar.stdout is not None and zstd.stdout is not None
    tar.stdout.close()  # zstd holds it; tar sees SIGPIPE if zstd dies
    reader = HashingReader(zstd.stdout)
    upload_error: JobError | None = None
    try:
        store.upload_stream(reader, key)
    except JobError as error:
        upload_error = error
    finally:
        zstd.stdout.close()
        tar_code, zstd_code = tar.wait(), zstd.wait()
    # A failed upload first: closing the pipe then made zstd and tar fail too.
    if upload_error:
        discard(store, key)
        raise upload_error
    # GNU tar: 1 = a file changed while read (the volume is not in use during
    # an archive, but a log file may still be closing); 2 = fatal.
    if tar_code not in (0, 1) or zstd_code != 0:
        discard(store, key)
        raise JobError(E_TAR, f"tar exited {tar_code}, zstd exited {zstd_code} while reading {DATA} (see the lines above)")
    if tar_code == 1:
        log("tar: some files changed while they were read; archived as read")
    return reader.sha256.hexdigest(), reader.size


def discard(store: Store, key: str) -> None:
    """A failed archive leaves no object behind (it would not count without .meta anyway)."""
    try:
        store.delete(key)
    except JobError as error:
        log(f"could not remove the partial object: {error}")


def as_job_error(error: Exception) -> JobError:
    if isinstance(error, JobError):
        return error
    return JobError(E_INTERNAL, f"unexpected {type(error).__name__}: {error}")


def report_failure(store: Store, marker_key: str, error: JobError, fields: dict[str, object]) -> int:
    log(f"FAILED ({fields['operation']}, error_code {error.code}): {error}")
    marker = {"status": "Failed", **fields, "error_code": error.code, "error_at": now()}
    try:
        store.put_text(marker_key, json.dumps(marker))
        log(f"wrote s3://{store.bucket}/{marker_key}")
    except JobError as marker_error:
        log(f"could not write the failure marker either: {marker_error}")
    return error.code


# ---------------------------------------------------------------------------


def restore() -> int:
    op = env("RESTORE_OP_ID")
    key = env("RESTORE_ARCHIVE_KEY")
    workspace = env("WORKSPACE_ID")
    prefix = env("S3_PREFIX", required=False)
    bucket = env("S3_BUCKET", required=False)
    url = env("ARCHIVE_URL", required=False)
    if url:
        url_bucket, url_key = parse_s3_url(url)
        if bucket and bucket != url_bucket:
            raise JobError(E_CONFIG, f"ARCHIVE_URL names bucket {url_bucket!r} but S3_BUCKET is {bucket!r}")
        if url_key != key:
            raise JobError(E_CONFIG, f"ARCHIVE_URL names key {url_key!r} but RESTORE_ARCHIVE_KEY is {key!r}")
        bucket = url_bucket
    if not bucket:
        raise JobError(E_CONFIG, "S3_BUCKET (or ARCHIVE_URL) is not set")
    base = f"{prefix}{workspace}"
    marker_key, error_key, origin_key = f"{base}/.restore_marker", f"{base}/.restore_error", f"{base}/.volume_origin"
    store = Store(bucket)
    log(f"restore of workspace {workspace}, op {op}: s3://{bucket}/{key} -> {DATA}")
    fields = {"operation": "restore", "restore_op_id": op, "archive_key": key}
    try:
        marker = store.get_text(marker_key)
        if marker is not None and marker_op(marker) == op:
            log(f"{marker_key} already holds restore op {op}: nothing to do")
            return 0
        restore_volume(store, key)
        at = now()
        store.put_text(marker_key, json.dumps({"restore_op_id": op, "archive_key": key, "restored_at": at}))
        store.put_text(
            origin_key,
            json.dumps({"kind": "restored", "source_archive_key": key, "restore_op_id": op, "restored_at": at}),
        )
        store.delete(error_key)
        log(f"restored (peak memory {peak_memory_mib()} MiB)")
        return 0
    except Exception as error:
        return report_failure(store, error_key, as_job_error(error), fields)


def marker_op(text: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value.get("restore_op_id") if isinstance(value, dict) else None


def restore_volume(store: Store, key: str) -> None:
    if not os.path.isdir(DATA):
        raise JobError(E_CONFIG, f"{DATA} is not a directory: the job must mount the workspace volume there")
    staging = os.path.join(DATA, STAGING_NAME)
    shutil.rmtree(staging, ignore_errors=True)
    os.mkdir(staging, 0o700)
    try:
        archive_file = os.path.join(staging, "archive.tar.zst")
        store.download(key, archive_file)
        meta = store.get_text(f"{key}.meta")
        if meta is None:
            raise JobError(E_CHECKSUM, f"s3://{store.bucket}/{key}.meta is missing: the archive never completed")
        expected = meta.splitlines()[0].strip() if meta.strip() else ""
        actual = f"sha256:{sha256_of(archive_file)}"
        if expected != actual:
            raise JobError(E_CHECKSUM, f"checksum mismatch: {key}.meta says {expected!r}, the object is {actual}; volume left as it was")
        tree = os.path.join(staging, "tree")
        os.mkdir(tree, 0o700)
        unpack = subprocess.run(
            ["tar", "--extract", "--zstd", f"--file={archive_file}", f"--directory={tree}", "--same-permissions", "--no-same-owner", *tar_excludes()],
            check=False,
        )
        if unpack.returncode != 0:
            raise JobError(E_TAR, f"unpacking {key} failed (tar exit {unpack.returncode}); volume left as it was")
        os.unlink(archive_file)
        sync_into_place(tree)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def sync_into_place(tree: str) -> None:
    """rsync -a --delete of tree/ into /data, one top-level entry at a time.

    Per entry because the volume root itself may belong to root (a fresh
    volume made by the provisioner): rsync would fail setting its mode and
    times. Top-level extras are removed here, deeper ones by --delete.
    """
    wanted = set(os.listdir(tree))
    for name in sorted(set(os.listdir(DATA)) - wanted - NOT_OURS):
        path = os.path.join(DATA, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        except OSError as error:
            raise JobError(E_SYNC, f"removing {path}, which the archive does not have: {error}") from error
    if not wanted:
        return
    sources = [os.path.join(tree, name) for name in sorted(wanted)]
    # -a without owner, group and device files: the job runs as the
    # workspace's uid (FIFOs, which it may create, are kept).
    result = subprocess.run(["rsync", "-rlpt", "--specials", "--delete", "--force", *sources, f"{DATA}/"], check=False)
    if result.returncode != 0:
        raise JobError(E_SYNC, f"rsync into {DATA} exited {result.returncode} (see the lines above)")


def main(operation: str) -> int:
    try:
        return archive() if operation == "archive" else restore()
    except JobError as error:
        # Before a store exists (the environment is wrong): nowhere to write a marker.
        log(f"FAILED ({operation}, error_code {error.code}): {error}")
        return error.code
    except Exception as error:  # a bug: say so, exit non-zero
        log(f"FAILED ({operation}): unexpected {type(error).__name__}: {error}")
        return E_INTERNAL
