"""deploy.py through the real sagemaker SDK, against moto: upload, training job, model and endpoint."""

import boto3
import pytest
from moto import mock_aws

from tests.ml.conftest import load


@pytest.fixture
def aws(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1", "SAGEMAKER_SUPPRESS_V2_WARNING": "1"}.items():
        monkeypatch.setenv(key, value)
    for key in [k for k in __import__("os").environ if k.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(key)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="model-bucket")
        role = boto3.client("iam").create_role(RoleName="sm", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        yield role


@pytest.mark.parametrize("serving", ["serverless", "realtime"])
def test_deploy_trains_on_the_bundled_data_and_serves_the_model(aws, serving):
    import sagemaker

    deploy = load("deploy")
    session = sagemaker.Session(boto_session=boto3.Session(region_name="us-east-1"), default_bucket="model-bucket")
    plan = deploy.DeployPlan(role_arn=aws, bucket="model-bucket", serving=serving, endpoint_name=f"headlines-{serving}")
    result = deploy.run(plan, session=session, wait=False)
    sm = boto3.client("sagemaker")
    job = sm.describe_training_job(TrainingJobName=result["model_version"])
    assert "huggingface-pytorch-training" in job["AlgorithmSpecification"]["TrainingImage"]
    assert job["HyperParameters"]["sagemaker_program"] == '"train.py"'
    assert job["HyperParameters"]["dropout"] == "0.3"
    channels = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in job["InputDataConfig"]}
    assert channels == {"train": "s3://model-bucket/headline-classifier/data/train",
                        "validation": "s3://model-bucket/headline-classifier/data/validation"}
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="model-bucket")["Contents"]]
    assert "headline-classifier/data/train/train.csv" in keys
    endpoint = sm.describe_endpoint(EndpointName=f"headlines-{serving}")
    (variant,) = sm.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])["ProductionVariants"]
    if serving == "serverless":
        assert variant["ServerlessConfig"] == {"MemorySizeInMB": 4096, "MaxConcurrency": 5}
    else:
        assert variant["InstanceType"] == "ml.m5.large"
    model = sm.describe_model(ModelName=variant["ModelName"])
    assert "huggingface-pytorch-inference" in model["PrimaryContainer"]["Image"]


def test_plans_refuse_impossible_serverless_settings():
    deploy = load("deploy")
    with pytest.raises(ValueError, match="1024-6144"):
        deploy.DeployPlan(role_arn="r", bucket="b", memory_mb=8192)
    with pytest.raises(ValueError, match="serverless or realtime"):
        deploy.DeployPlan(role_arn="r", bucket="b", serving="batch")
