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
        assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}  # measured default
    else:
        assert variant["InstanceType"] == "ml.m5.large"
    model = sm.describe_model(ModelName=variant["ModelName"])
    assert "huggingface-pytorch-inference" in model["PrimaryContainer"]["Image"]
    environment = model["PrimaryContainer"]["Environment"]
    assert (environment["HEADLINE_MAX_LENGTH"], environment["SAGEMAKER_MODEL_SERVER_WORKERS"]) == ("64", "1")


def test_realtime_workers_reach_the_model_server(aws):
    import sagemaker

    deploy = load("deploy")
    session = sagemaker.Session(boto_session=boto3.Session(region_name="us-east-1"), default_bucket="model-bucket")
    plan = deploy.DeployPlan(role_arn=aws, bucket="model-bucket", serving="realtime", instance_type="ml.c5.xlarge",
                             workers=2, endpoint_name="headlines-workers")
    deploy.run(plan, session=session, wait=False)
    sm = boto3.client("sagemaker")
    config = sm.describe_endpoint(EndpointName="headlines-workers")["EndpointConfigName"]
    (variant,) = sm.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
    assert variant["InstanceType"] == "ml.c5.xlarge"
    environment = sm.describe_model(ModelName=variant["ModelName"])["PrimaryContainer"]["Environment"]
    assert environment["SAGEMAKER_MODEL_SERVER_WORKERS"] == "2"  # inference.py gives each vCPUs/2 threads


def test_plans_refuse_impossible_serverless_settings():
    deploy = load("deploy")
    with pytest.raises(ValueError, match="1024-6144"):
        deploy.DeployPlan(role_arn="r", bucket="b", memory_mb=8192)
    with pytest.raises(ValueError, match="1024-6144 MB in 1024 MB steps, not 1536"):
        deploy.DeployPlan(role_arn="r", bucket="b", memory_mb=1536)
    with pytest.raises(ValueError, match="serverless or realtime"):
        deploy.DeployPlan(role_arn="r", bucket="b", serving="batch")
    with pytest.raises(ValueError, match="serverless endpoint runs one worker"):
        deploy.DeployPlan(role_arn="r", bucket="b", workers=2)
    with pytest.raises(ValueError, match="1-64"):
        deploy.DeployPlan(role_arn="r", bucket="b", serving="realtime", workers=0)
    assert deploy.DeployPlan(role_arn="r", bucket="b").memory_mb == 2048


def test_serverless_memory_sizes_are_the_apis():
    """The sizes deploy.py accepts are the ones SageMaker's API documents for ServerlessConfig.MemorySizeInMB."""
    import re

    import botocore.session

    deploy = load("deploy")
    model = botocore.session.get_session().get_service_model("sagemaker")
    doc = model.shape_for("ProductionVariantServerlessConfig").members["MemorySizeInMB"].documentation
    assert tuple(int(n) for n in re.findall(r"(\d{4}) MB", doc)) == deploy.SERVERLESS_MEMORY_SIZES
    assert deploy.SERVERLESS_MEMORY_MB in deploy.SERVERLESS_MEMORY_SIZES


def test_memory_option_is_checked_before_anything_is_uploaded(capsys):
    deploy = load("deploy")
    with pytest.raises(SystemExit) as exit_:
        deploy.main(["--role-arn", "r", "--bucket", "b", "--memory-mb", "3000"])
    assert exit_.value.code == 2
    assert "1024-6144 MB in 1024 MB steps, not 3000" in capsys.readouterr().err


@pytest.mark.parametrize("instance", ["ml.c7g.xlarge", "ml.c6gn.large", "ml.m6gd.2xlarge", "ml.r7g.large"])
def test_graviton_instances_are_refused_with_the_reason(instance):
    deploy = load("deploy")
    with pytest.raises(ValueError, match="Graviton \\(arm64\\).*x86 only") as refused:
        deploy.DeployPlan(role_arn="r", bucket="b", serving="realtime", instance_type=instance)
    assert instance in str(refused.value) and "huggingface.json" in str(refused.value)


@pytest.mark.parametrize("instance", ["ml.m5.large", "ml.c6i.xlarge", "ml.g5.xlarge", "ml.g4dn.xlarge"])
def test_x86_and_gpu_instances_are_not_taken_for_graviton(instance):
    deploy = load("deploy")
    assert deploy.DeployPlan(role_arn="r", bucket="b", serving="realtime", instance_type=instance).instance_type


def test_the_sdk_has_no_hugging_face_image_for_graviton():
    """What the refusal rests on: the SDK's own image lookup has no arm64 Hugging Face inference image."""
    from sagemaker import image_uris

    deploy = load("deploy")
    image = {"version": deploy.INFERENCE_IMAGE["transformers_version"], "py_version": "py312",
             "base_framework_version": f"pytorch{deploy.INFERENCE_IMAGE['pytorch_version']}",
             "region": "us-east-1", "image_scope": "inference"}
    x86 = image_uris.retrieve("huggingface", instance_type="ml.c6i.xlarge", **image)
    assert "huggingface-pytorch-inference" in x86 and "cpu" in x86
    with pytest.raises(ValueError, match="(?i)graviton"):
        image_uris.retrieve("huggingface", instance_type="ml.c7g.xlarge", **image)
    config = image_uris.config_for_framework("huggingface")
    assert config["inference"]["processors"] == ["gpu", "cpu"]
