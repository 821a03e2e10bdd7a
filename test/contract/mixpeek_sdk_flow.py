"""Drives Mixpeek's published Python SDK (pinned in requirements.txt) through a whole bucket-sync flow
against this project's API, unchanged: every call must answer 200 with a parsed model (never None,
never a validation error). Prints one JSON document on stdout for test/contract/mixpeek-sdk.test.ts.

Environment: API_URL, API_KEY, NAMESPACE; S3_ENDPOINT, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY,
S3_SOURCE (bucket/prefix holding the files), EXPECTED_FILES (how many files are there).
"""

import json
import os
import sys
import time
import uuid

import mixpeek
from mixpeek import (
    AnalyticsBucketsApi,
    BucketCreateRequest,
    BucketObjectsApi,
    BucketSchemaFieldInput,
    BucketSchemaInput,
    BucketsApi,
    BucketSyncsApi,
    ListBucketsRequest,
    ListDLQRequest,
    ListObjectsRequest,
    ListStorageConnectionsRequest,
    ListSyncConfigurationsRequest,
    ListSyncJobsRequest,
    OrganizationConnectionsApi,
    S3AccessKeyCredentials,
    S3Config,
    StorageConnectionCreateRequest,
    SyncCreateRequest,
    SyncUpdateRequest,
)

env = os.environ
calls = []


def call(name, fn, *args, **kwargs):
    """One SDK call through its *_with_http_info variant: 200 and a parsed model, or the flow fails."""
    started = time.time()
    try:
        resp = fn(*args, **kwargs)
    except mixpeek.ApiException as e:
        fail(name, f"HTTP {e.status}: {e.body}")
    except Exception as e:  # a validation error while parsing the answer
        fail(name, f"{type(e).__name__}: {e}")
    if resp.status_code != 200:
        fail(name, f"status {resp.status_code}")
    if resp.data is None:
        fail(name, "the SDK parsed no model (None)")
    calls.append({"call": name, "status": resp.status_code, "type": type(resp.data).__name__,
                  "ms": round((time.time() - started) * 1000)})
    return resp.data


def fail(name, message):
    print(json.dumps({"ok": False, "failed_call": name, "error": message, "calls": calls}))
    sys.exit(1)


def check(cond, name, message):
    if not cond:
        fail(name, message)


def main():
    config = mixpeek.Configuration(host=env["API_URL"], access_token=env["API_KEY"],
                                   api_key={"NamespaceHeader": env["NAMESPACE"]})
    client = mixpeek.ApiClient(config)
    buckets = BucketsApi(client)
    connections = OrganizationConnectionsApi(client)
    syncs = BucketSyncsApi(client)
    objects = BucketObjectsApi(client)
    analytics = AnalyticsBucketsApi(client)
    suffix = uuid.uuid4().hex[:8]
    expected = int(env["EXPECTED_FILES"])
    out = {}

    # --- buckets
    bucket = call("create_bucket", buckets.create_bucket_with_http_info, BucketCreateRequest(
        bucket_name=f"sdk-{suffix}", description="made by the Mixpeek SDK",
        bucket_schema=BucketSchemaInput(properties={"content": BucketSchemaFieldInput(type="text")}),
        metadata={"suite": "contract"}))
    check(bucket.object_count == 0 and bucket.total_size_bytes == 0, "create_bucket", "a new bucket is empty")
    bucket_id = bucket.bucket_id
    got = call("get_bucket", buckets.get_bucket_with_http_info, bucket_id)
    check(got.bucket_name == f"sdk-{suffix}", "get_bucket", "wrong bucket")
    listed = call("list_buckets", buckets.list_buckets_with_http_info, list_buckets_request=ListBucketsRequest())
    check(isinstance(listed.total_count, int) and any(b.bucket_id == bucket_id for b in listed.results),
          "list_buckets", "the new bucket is not listed")
    call("list_buckets_get", buckets.list_buckets_get_with_http_info, limit=10)

    # --- connections (organization-level: the SDK sends no X-Namespace for these)
    s3 = S3Config(region="us-east-1", endpoint_url=env["S3_ENDPOINT"], use_ssl=False,
                  credentials=mixpeek.Credentials3(S3AccessKeyCredentials(
                      access_key_id=env["S3_ACCESS_KEY_ID"], secret_access_key=env["S3_SECRET_ACCESS_KEY"])))
    conn = call("create_connection", connections.create_storage_connection_organizations_with_http_info,
                StorageConnectionCreateRequest(name=f"sdk-minio-{suffix}", provider_type="s3",
                                               provider_config=s3.to_dict(), write_enabled=True))
    check(conn.write_enabled is True, "create_connection", "write_enabled was not kept")
    check("[redacted]" in json.dumps(conn.provider_config.to_dict()), "create_connection",
          "credentials are not redacted")
    conn_id = conn.connection_id
    conns = call("list_connections", connections.list_storage_connections_organizations_with_http_info,
                 list_storage_connections_request=ListStorageConnectionsRequest(provider_type="s3"))
    check(isinstance(conns.total, int) and any(c.connection_id == conn_id for c in conns.results),
          "list_connections", "the new connection is not listed")
    call("get_connection", connections.get_storage_connection_organizations_with_http_info, conn_id)
    tested = call("test_connection", connections.test_storage_connection_organizations_with_http_info, conn_id)
    check(tested.success, "test_connection", tested.message)

    # --- syncs
    sync = call("create_sync", syncs.create_sync_configuration_buckets_with_http_info, bucket_id,
                SyncCreateRequest(connection_id=conn_id, source_path=env["S3_SOURCE"], sync_mode="continuous",
                                  polling_interval_seconds=86400, sync_concurrency=2,
                                  file_filters={"include_patterns": ["*.txt"]}, description="sdk sync"))
    sync_id = sync.sync_config_id
    check(sync.polling_interval_seconds == 86400 and sync.sync_concurrency == 2, "create_sync",
          "settings were not kept")
    call("get_sync", syncs.get_sync_configuration_buckets_id_config_with_http_info, bucket_id, sync_id)
    sl = call("list_syncs", syncs.list_sync_configurations_buckets_with_http_info, bucket_id,
              list_sync_configurations_request=ListSyncConfigurationsRequest())
    check(isinstance(sl.total, int) and sl.total >= 1, "list_syncs", "total is not a count")

    # the first run (started at create) brings every matching file in
    deadline = time.time() + 120
    while True:
        page = call("list_objects", objects.list_objects_buckets_with_http_info, bucket_id,
                    list_objects_request=ListObjectsRequest())
        if len(page.results) >= expected:
            break
        if time.time() > deadline:
            fail("list_objects", f"{len(page.results)} of {expected} objects after 120 s")
        calls.pop()
        time.sleep(0.5)
    check(len(page.results) == expected, "list_objects", f"{len(page.results)} objects, want {expected}")
    obj = call("get_object", objects.get_object_buckets_with_http_info, bucket_id, page.results[0].object_id,
               return_presigned_urls=False)
    check(obj.blobs and obj.blobs[0].type is not None, "get_object", "no typed blob")
    out["blob_type"] = obj.blobs[0].type.value
    out["source_type"] = obj.source_details[0].type.value
    # object_count is a snapshot recounted when a sync run ends: wait for the run that made the objects.
    deadline = time.time() + 60
    while True:
        bucket_after = call("get_bucket_after_sync", buckets.get_bucket_with_http_info, bucket_id)
        if bucket_after.object_count >= expected or time.time() > deadline:
            break
        calls.pop()
        time.sleep(0.5)
    out["object_count"] = bucket_after.object_count
    out["total_size_bytes"] = bucket_after.total_size_bytes

    updated = call("update_sync", syncs.update_sync_configuration_buckets_id_config_with_http_info, bucket_id,
                   sync_id, SyncUpdateRequest(description="updated by the sdk", sync_concurrency=4,
                                              provider_filters={}, polling_interval_seconds=43200))
    check(updated.description == "updated by the sdk" and updated.sync_concurrency == 4, "update_sync",
          "the update did not hold")
    paused = call("pause_sync", syncs.pause_sync_configuration_buckets_id_config_with_http_info, bucket_id, sync_id)
    check(paused.paused is True, "pause_sync", "not paused")
    resumed = call("resume_sync", syncs.resume_sync_configuration_buckets_id_config_with_http_info, bucket_id,
                   sync_id)
    check(resumed.paused is False, "resume_sync", "still paused")
    trig = call("trigger_sync", syncs.trigger_sync_configuration_buckets_id_config_with_http_info, bucket_id,
                sync_id, full_sync=True)
    out["trigger"] = trig

    deadline = time.time() + 60
    while True:
        jobs = call("list_sync_jobs", syncs.list_sync_jobs_buckets_id_config_with_http_info, bucket_id, sync_id,
                    list_sync_jobs_request=ListSyncJobsRequest())
        if sum(1 for j in jobs.results if j.status and j.status.value != "running") >= 2:
            break
        if time.time() > deadline:
            fail("list_sync_jobs", f"jobs: {[j.to_dict() for j in jobs.results]}")
        calls.pop()
        time.sleep(0.5)
    check(isinstance(jobs.total, int) and jobs.total >= 2, "list_sync_jobs", "total is not a count")
    out["jobs"] = [{"status": j.status.value, "trigger": j.trigger.value if j.trigger else None,
                    "files_synced": j.files_synced} for j in jobs.results]
    one = call("get_sync_job", syncs.get_sync_job_buckets_id_config_with_http_info, bucket_id, sync_id,
               jobs.results[0].sync_job_id)
    check(one.sync_job_id == jobs.results[0].sync_job_id, "get_sync_job", "wrong job")
    if trig.get("sync_job_id"):
        # The run the trigger named (its run id; the run in flight when the trigger came during one) is
        # one of the sync's jobs, found by that id.
        named = call("get_triggered_job", syncs.get_sync_job_buckets_id_config_with_http_info, bucket_id,
                     sync_id, trig["sync_job_id"])
        listed = [j.sync_job_id for j in jobs.results]
        check(named.sync_job_id in listed, "get_triggered_job",
              f"the triggered run is {named.sync_job_id}, not among the jobs {listed}")
        out["triggered_job_found"] = True
    metrics = call("get_sync_metrics", syncs.get_sync_metrics_buckets_id_config_with_http_info, bucket_id, sync_id)
    out["metrics"] = {"total_files_synced": metrics.total_files_synced, "sync_run_counter": metrics.sync_run_counter,
                      "healthy": metrics.healthy, "dlq_total": metrics.dlq_total}
    dlq = call("list_dlq", syncs.list_dlq_entries_buckets_id_syncs_config_with_http_info, bucket_id, sync_id,
               list_dlq_request=ListDLQRequest())
    out["dlq_total"] = dlq.total
    unlocked = call("unlock_sync", syncs.force_unlock_sync_configuration_buckets_id_config_with_http_info,
                    bucket_id, sync_id)
    out["unlock"] = unlocked if isinstance(unlocked, dict) else str(unlocked)

    # --- analytics
    perf = call("sync_performance", analytics.get_sync_performance_analytics_buckets_with_http_info, bucket_id,
                sync_config_id=sync_id, hours=24)
    out["performance_runs"] = len(perf.runs)
    comp = call("sync_comparison", analytics.get_sync_comparison_analytics_buckets_with_http_info, bucket_id,
                hours=24)
    out["comparison_configs"] = len(comp.configs)

    deleted = call("delete_sync", syncs.delete_sync_configuration_buckets_id_config_with_http_info, bucket_id,
                   sync_id)
    out["delete"] = deleted
    print(json.dumps({"ok": True, "calls": calls, **out}, default=str))


main()
