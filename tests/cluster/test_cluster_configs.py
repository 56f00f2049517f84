"""The cluster configs: Ray's launcher schema accepts aws.yaml, Ray's own config
validation the fake multi-node one, every config has a CPU and a GPU worker group that
start at 0, and the gpu extra they install resolves from the lock file. (The fake
multi-node config also runs, autoscaling: tests/cluster/test_autoscaling.py.)"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_aws_config_validates_against_rays_schema():
    import jsonschema
    import ray.autoscaler

    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    config = yaml.safe_load((REPO / "cluster/aws.yaml").read_text())
    jsonschema.validate(config, schema)
    types = config["available_node_types"]
    assert types["gpu_worker"]["min_workers"] == 0 and types["gpu_worker"]["resources"]["GPU"]
    assert types["cpu_worker"]["min_workers"] == 0
    assert "requirements-gpu.txt" in " ".join(types["gpu_worker"]["worker_setup_commands"])


def test_fake_multinode_config_passes_rays_own_validation():
    """What the head's autoscaler checks when it reads the file (and `ray up` would:
    the launcher's schema and the node types' consistency)."""
    from ray.autoscaler._private.util import validate_config

    config = yaml.safe_load((REPO / "cluster/fake-multinode.yaml").read_text())
    validate_config(config)
    # Ray's fake multi-node provider, as an external one that `ray up` can drive
    # (tests/cluster/test_fake_cluster_up.py)
    assert config["provider"]["type"] == "external"
    assert config["provider"]["module"] == "vidray.fake_provider.LaunchableFakeProvider"
    types = config["available_node_types"]
    # the fake provider's head type, with no CPU for decode work (as aws.yaml's head)
    assert config["head_node_type"] == "ray.head.default"
    assert types["ray.head.default"]["resources"] == {"CPU": 0}
    assert types["cpu_worker"]["min_workers"] == 0 and not types["cpu_worker"]["resources"].get(
        "GPU"
    )
    assert types["gpu_worker"]["min_workers"] == 0 and types["gpu_worker"]["resources"]["GPU"]
    (start,) = config["head_start_ray_commands"]
    assert "RAY_FAKE_CLUSTER=1" in start and "--num-cpus=0" in start
    assert "--autoscaling-config=cluster/fake-multinode.yaml" in start


def test_kuberay_job_has_an_autoscaled_gpu_group():
    job = yaml.safe_load((REPO / "cluster/kuberay-rayjob.yaml").read_text())
    spec = job["spec"]["rayClusterSpec"]
    assert spec["enableInTreeAutoscaling"] is True
    groups = {g["groupName"]: g for g in spec["workerGroupSpecs"]}
    gpu = groups["gpu"]
    assert gpu["minReplicas"] == 0 and gpu["replicas"] == 0
    (container,) = gpu["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_every_node_starts_with_vidrays_worker_settings():
    """Every config starts each node with vidray's worker settings: idle workers that
    have its stages imported, and that live through a job."""
    from vidray.cluster import node_env

    want = node_env()
    assert set(want) == {"RAY_preload_python_modules", "RAY_idle_worker_killing_time_threshold_ms"}
    settings = " ".join(f"{k}={v}" for k, v in want.items())
    aws = yaml.safe_load((REPO / "cluster/aws.yaml").read_text())
    for key in ("head_start_ray_commands", "worker_start_ray_commands"):
        (start,) = [c for c in aws[key] if "ray start" in c]
        assert f"{settings} ray start" in start, key
    # the fake cluster's workers are started with its head's environment
    fake = yaml.safe_load((REPO / "cluster/fake-multinode.yaml").read_text())
    (start,) = fake["head_start_ray_commands"]
    assert f"{settings} ray start" in start
    job = yaml.safe_load((REPO / "cluster/kuberay-rayjob.yaml").read_text())
    for group in job["spec"]["rayClusterSpec"]["workerGroupSpecs"]:
        (container,) = group["template"]["spec"]["containers"]
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        assert {k: env.get(k) for k in want} == want, group["groupName"]


def test_the_gpu_extra_resolves_from_the_lock_file(tmp_path):
    out = tmp_path / "requirements-gpu.txt"
    uv = os.environ.get("UV") or shutil.which("uv")  # ``uv run`` names itself in UV
    assert uv, "the tests run under uv (the README's test command)"
    cmd = [uv, "export", "--frozen", "--no-dev", "--extra", "gpu", "--no-emit-project",
           "-o", str(out)]  # fmt: skip
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    pins = out.read_text()
    assert "torch==" in pins and "torchvision==" in pins
