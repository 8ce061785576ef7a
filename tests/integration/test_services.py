"""The harness's own services answer as the real thing: MLflow's REST API and S3 over boto3."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.services import MlflowServer, MotoServer

pytestmark = pytest.mark.integration


def test_mlflow_server_answers_rest(mlflow_server: MlflowServer) -> None:
    url = mlflow_server.url + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=Default"
    with urllib.request.urlopen(url, timeout=10) as response:
        body = json.load(response)
    assert body["experiment"]["name"] == "Default"


def test_moto_server_speaks_s3(moto_server: MotoServer, s3_env: dict[str, str]) -> None:
    import boto3

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="harness-check")
    s3.put_object(Bucket="harness-check", Key="a.txt", Body=b"hello")
    listed = s3.list_objects_v2(Bucket="harness-check")
    assert [obj["Key"] for obj in listed["Contents"]] == ["a.txt"]
