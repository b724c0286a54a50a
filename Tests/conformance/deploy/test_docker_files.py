"""docker/: the Dockerfile passes hadolint, the Kubernetes manifests validate against the current
Kubernetes schema (kubernetes-validate --strict) and pass checkov's security checks (every skip
carries its reason), and they say what docs/deployment.md promises: probes, volumes, resources,
grace period, PodDisruptionBudget, Services, Secret, ConfigMap and the materialization CronJob.
The linters live in ~/.cache/larder/venv-deploy (scripts/setup.sh; LARDER_DEPLOY_VENV overrides)."""
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

import servers

ROOT = servers.REPO_ROOT
DOCKER = ROOT / "docker"
K8S = DOCKER / "k8s"
VENV = Path(os.environ.get("LARDER_DEPLOY_VENV") or Path(os.environ.get("LARDER_CACHE", Path.home() / ".cache/larder")) / "venv-deploy")
KUBERNETES_VERSION = "1.37.0"


def tool(name):
    path = VENV / "bin" / name
    assert path.exists(), f"{path} missing: run scripts/setup.sh (it creates {VENV})"
    return str(path)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)


def manifests():
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def one(kind, name=None):
    found = [d for _, d in manifests() if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


# --- Dockerfile

def test_dockerfile_passes_hadolint():
    done = run([tool("hadolint"), str(DOCKER / "Dockerfile")])
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian\nRUN apt-get install redis\nUSER root\nCMD redis-server\n")
    done = run([tool("hadolint"), str(bad)])
    assert done.returncode != 0 and "DL3006" in done.stdout, done.stdout


def test_dockerfile_is_multi_stage_static_non_root_with_ports_volume_and_healthcheck():
    text = (DOCKER / "Dockerfile").read_text()
    assert len(re.findall(r"^FROM ", text, re.M)) == 2
    assert "--static-swift-stdlib" in text
    user = re.search(r"^USER (\S+)", text, re.M).group(1)
    assert not user.startswith(("0", "root"))
    assert re.search(r"^EXPOSE 6379 6380 6566$", text, re.M)
    assert re.search(r'^VOLUME \["/data"\]$', text, re.M)
    assert "HEALTHCHECK" in text and "STOPSIGNAL SIGTERM" in text
    # The runtime stage installs the C libraries scripts/static-build.sh allows the binary to need.
    runtime = text.split("AS runtime", 1)[1]
    for package in ("libsqlite3-0", "libzstd1", "libsnappy1v5", "liblz4-1", "zlib1g"):
        assert package in runtime


def test_dockerfile_healthcheck_command_passes_against_a_running_server_and_fails_without_one(fresh_servers):
    text = (DOCKER / "Dockerfile").read_text()
    script = re.search(r'"-c", "(.*)"\]', text).group(1).replace("\\\\", "\\")
    server = fresh_servers("larder", ["--threads", "1", "--requirepass", "pw"])
    ok = run(["/bin/bash", "-c", script.replace("6379", str(server.port))])
    assert ok.returncode == 0, ok.stderr
    down = run(["/bin/bash", "-c", script.replace("6379", str(servers.free_port()))])
    assert down.returncode != 0


# --- Kubernetes

def test_every_manifest_is_in_the_kustomization():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def test_manifests_validate_against_the_kubernetes_schema():
    files = [str(p) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"]
    done = run([tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES_VERSION] + files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_kubernetes_validate_rejects_a_wrong_field(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text((K8S / "poddisruptionbudget.yaml").read_text().replace("maxUnavailable", "maxUnavailabel"))
    done = run([tool("kubernetes-validate"), "--strict", "--quiet", "-k", KUBERNETES_VERSION, str(bad)])
    assert done.returncode != 0


def test_checkov_finds_nothing_and_every_skip_is_argued():
    done = run([tool("checkov"), "-d", str(K8S), "--framework", "kubernetes", "--compact", "--quiet",
                "--skip-download", "-o", "json"], env=dict(os.environ, BC_SKIP_MAPPING="TRUE"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    for _, doc in manifests():
        for key, value in (doc["metadata"].get("annotations") or {}).items():
            if key.startswith("checkov.io/skip"):
                check, _, reason = value.partition("=")
                assert re.fullmatch(r"CKV_K8S_\d+", check) and len(reason) > 20, value


def test_statefulset_probes_volume_resources_and_grace_period():
    sts = one("StatefulSet", "larder")
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"resp": 6379, "resp-tls": 6380, "http": 6566}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert pod["terminationGracePeriodSeconds"] >= 60
    res = container["resources"]
    assert res["requests"]["memory"] == res["limits"]["memory"], "Guaranteed memory for the store"
    assert {"data"} == {t["metadata"]["name"] for t in sts["spec"]["volumeClaimTemplates"]}
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    assert mounts["data"] == "/data" and mounts["config"] == "/etc/larder/larder.conf"
    assert container["securityContext"]["readOnlyRootFilesystem"] and pod["securityContext"]["runAsNonRoot"]
    assert sts["spec"]["serviceName"] == one("Service", "larder-headless")["metadata"]["name"]
    assert one("Service", "larder-headless")["spec"]["clusterIP"] == "None"
    assert one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]


def test_config_and_secrets_are_where_the_pod_reads_them():
    conf = one("ConfigMap", "larder-config")["data"]["larder.conf"]
    settings = dict(line.split(None, 1) for line in conf.splitlines() if line.strip() and not line.startswith("#"))
    assert settings["aclfile"] == "/etc/larder/secrets/users.acl" and settings["dir"] == "/data"
    assert settings["log-format"] == "json"
    assert not any(k in settings for k in ("requirepass", "masterauth")), "no password in the ConfigMap"
    assert "users.acl" in one("Secret", "larder-secrets")["stringData"]
    assert one("Secret", "larder-tls")["type"] == "kubernetes.io/tls"


def test_cronjob_runs_materialize_incremental_against_the_service_with_the_password_from_a_file():
    job = one("CronJob", "larder-materialize")
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    command = " ".join(container["args"])
    assert "larder materialize-incremental /repo" in command
    service = one("Service", "larder")
    # `user:@host`: the user name, no password in the URL (the file gives it).
    assert f"redis://materialize:@{service['metadata']['name']}.{service['metadata']['namespace']}.svc:6379" in command
    password_file = re.search(r"--password-file (\S+)", command).group(1)
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert os.path.dirname(password_file) in mounts
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    assert "memory" in container["resources"]["requests"]
