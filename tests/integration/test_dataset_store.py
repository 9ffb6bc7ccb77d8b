"""Uploaded datasets on real processes with no shared disk, as docker-compose runs them: the
API and the worker each have their own data directory, PostgreSQL and Redis connect them, and
uploads live in an S3-compatible store (moto's server, its own process). A file uploaded over
HTTP is searched by the worker, which downloads it from the bucket, and the result names its
bytes."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
from sklearn.datasets import load_breast_cancer

from tests.integration.harness import Backend, Service, job_in, wait_for
from tests.object_store import CREDENTIALS, S3Server, s3_server

pytestmark = pytest.mark.integration

BUCKET = "uploads"


class SeparateDisks(Service):
    """A Service whose worker has a data directory of its own (no disk shared with the API)."""

    def start_worker(self, name: str) -> None:
        own = self.workdir / f"{name}-state"
        own.mkdir(exist_ok=True)
        saved = dict(self.extra_env)
        self.extra_env["LOSS_SEARCH_DATA_DIR"] = str(own)
        try:
            super().start_worker(name)
        finally:
            self.extra_env = saved


@pytest.fixture(scope="module")
def stack(
    postgres_database: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Service, S3Server]]:
    workdir = tmp_path_factory.mktemp("dataset-store")
    with s3_server(workdir) as s3:
        s3.bucket(BUCKET)
        backend = Backend(
            "postgres_redis", postgres_database, redis_url, f"test-{uuid.uuid4().hex[:8]}"
        )
        data_root = workdir / "data"
        data_root.mkdir()
        service = SeparateDisks(
            backend=backend,
            workdir=workdir,
            data_root=data_root,
            extra_env={
                **CREDENTIALS,
                "AWS_EC2_METADATA_DISABLED": "true",
                "LOSS_SEARCH_DATASET_STORE": f"s3://{BUCKET}/datasets",
                "LOSS_SEARCH_S3_ENDPOINT_URL": s3.endpoint,
            },
        )
        try:
            service.start()
            yield service, s3
        finally:
            service.stop()


def test_an_uploaded_file_is_searched_by_a_worker_that_shares_no_disk_with_the_api(
    stack: tuple[Service, S3Server],
) -> None:
    service, s3 = stack
    frame = load_breast_cancer(as_frame=True).frame
    content = frame.to_csv(index=False).encode()
    rows = len(frame)
    with service.client() as client:
        uploaded = client.post("/v1/datasets", files={"file": ("features.csv", content)})
        assert uploaded.status_code == 201, uploaded.text
        dataset = uploaded.json()
        keys = {o["Key"] for o in s3.client.list_objects_v2(Bucket=BUCKET)["Contents"]}
        assert f"datasets/{dataset['fingerprint']}.csv" in keys

        job = client.post(
            "/v1/jobs",
            json={
                "dataset": dataset["reference"],
                "target": "target",
                "metric": "f1",
                "budget": {"n_trials": 3},
            },
        )
        assert job.status_code == 202, job.text
        job_id = job.json()["id"]
        ended = wait_for(
            lambda: job_in(client, job_id, "succeeded", "failed"), 240, "the job to end"
        )
        assert ended["status"] == "succeeded", ended["error"]
        source = client.get(f"/v1/jobs/{job_id}/best").json()["dataset"]["source"]
    assert source["dataset_id"] == dataset["id"]
    assert source["fingerprint"] == hashlib.sha256(content).hexdigest()
    assert source["rows"] == rows
    # The worker read its own downloaded copy: the API's data directory holds no copy of it.
    worker_copy = (
        service.workdir / "worker-1-state" / "dataset-cache" / f"{dataset['fingerprint']}.csv"
    )
    assert worker_copy.exists()
