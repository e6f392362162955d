"""Kubernetes manifests for serving a ``tensorrt_plan`` repository with Triton on a cluster
(chapter 11): a KServe ``InferenceService`` on KServe's ``kserve-tritonserver`` runtime, and the
plain alternative — a ``Deployment`` with Triton's readiness/liveness probes, a ``Service`` and a
``HorizontalPodAutoscaler`` on a Triton metric. Built as Python dicts, written with PyYAML,
and :func:`check` parses them back and checks the fields each kind needs.

Every replica runs the same container image (hence the same Triton and TensorRT), loads the same
repository and needs a GPU the plan was built for: a node with another GPU or driver fails the
readiness probe instead of serving wrong answers.
"""
from __future__ import annotations

from typing import Any

from .common import UserError

TRITON_PORTS = {"http": 8000, "grpc": 8001, "metrics": 8002}
# The HPA scales on the average time a request waits in Triton's queue, a per-pod metric that a
# Prometheus adapter derives from Triton's counters:
#   rate(nv_inference_queue_duration_us[1m]) / rate(nv_inference_request_success[1m])
QUEUE_METRIC = "triton_queue_us_per_request"


def manifests(name: str, image: str, storage_uri: str, *, replicas: int = 2, max_replicas: int = 8,
              gpus: int = 1, queue_target_us: int = 2000) -> dict[str, list[dict[str, Any]]]:
    """``{file name: [documents]}`` for the two ways to run Triton on Kubernetes."""
    if not 1 <= replicas <= max_replicas:
        raise UserError(f"replicas {replicas} must lie within 1..max_replicas ({max_replicas})")
    labels = {"app": name}
    ports = [{"name": k, "containerPort": v} for k, v in TRITON_PORTS.items()]
    probe = lambda path, delay: {"httpGet": {"path": path, "port": "http"}, "initialDelaySeconds": delay,  # noqa: E731
                                 "periodSeconds": 5, "failureThreshold": 3}
    container = {
        "name": "tritonserver", "image": image,
        "args": ["tritonserver", "--model-repository=/models", "--strict-readiness=true",
                 "--exit-on-error=true"],
        "ports": ports,
        "readinessProbe": probe("/v2/health/ready", 10),  # ready: every model loaded
        "livenessProbe": probe("/v2/health/live", 30),  # live: the process answers
        "resources": {"limits": {"nvidia.com/gpu": gpus}},
        "volumeMounts": [{"name": "models", "mountPath": "/models", "readOnly": True}],
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas, "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels, "annotations": {
                    "prometheus.io/scrape": "true", "prometheus.io/port": str(TRITON_PORTS["metrics"])}},
                "spec": {
                    "initContainers": [{"name": "fetch-models", "image": "amazon/aws-cli",  # any copier works
                                        "args": ["s3", "cp", "--recursive", storage_uri, "/models"],
                                        "volumeMounts": [{"name": "models", "mountPath": "/models"}]}],
                    "containers": [container],
                    "volumes": [{"name": "models", "emptyDir": {}}]}}}}
    service = {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": labels},
        "spec": {"selector": labels, "ports": [{"name": k, "port": v, "targetPort": k} for k, v in TRITON_PORTS.items()]}}
    hpa = {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler", "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": replicas, "maxReplicas": max_replicas,
            "metrics": [{"type": "Pods", "pods": {"metric": {"name": QUEUE_METRIC},
                                                  "target": {"type": "AverageValue",
                                                             "averageValue": str(queue_target_us)}}}]}}
    model: dict[str, Any] = {"modelFormat": {"name": "tensorrt"}, "runtime": "kserve-tritonserver"}
    if ":" in image.rsplit("/", 1)[-1]:  # the runtime's image tag, e.g. 24.10-py3
        model["runtimeVersion"] = image.rsplit(":", 1)[-1]
    model |= {"storageUri": storage_uri, "resources": {"limits": {"nvidia.com/gpu": gpus}}}
    inference_service = {
        "apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService", "metadata": {"name": name},
        "spec": {"predictor": {"minReplicas": replicas, "maxReplicas": max_replicas, "model": model}}}
    return {"kserve-inferenceservice.yaml": [inference_service],
            "triton-deployment.yaml": [deployment, service, hpa]}


def dump(documents: list[dict[str, Any]]) -> str:
    import yaml

    class _Plain(yaml.SafeDumper):  # no &anchors / *aliases for the label dicts used three times
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return yaml.dump_all(documents, Dumper=_Plain, sort_keys=False)


REQUIRED = {
    "InferenceService": ["spec.predictor.model.modelFormat.name", "spec.predictor.model.runtime",
                         "spec.predictor.model.storageUri"],
    "Deployment": ["spec.replicas", "spec.selector.matchLabels", "spec.template.spec.containers"],
    "Service": ["spec.selector", "spec.ports"],
    "HorizontalPodAutoscaler": ["spec.scaleTargetRef.name", "spec.minReplicas", "spec.maxReplicas", "spec.metrics"],
}


def _get(doc: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def check(text: str) -> list[str]:
    """Parse YAML text back and list what a manifest lacks (empty: every needed field is there):
    the kind's required fields, a GPU limit, Triton's health probes on the HTTP port, a Service
    selecting the Deployment's pods, an autoscaler aimed at it with min <= max."""
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        return [f"not YAML: {exc}"]
    problems: list[str] = []
    by_kind = {d.get("kind"): d for d in docs if isinstance(d, dict)}
    for doc in docs:
        kind = doc.get("kind") if isinstance(doc, dict) else None
        if kind not in REQUIRED:
            problems.append(f"unknown document kind {kind!r}")
            continue
        if not _get(doc, "metadata.name"):
            problems.append(f"{kind}: no metadata.name")
        problems += [f"{kind}: no {f}" for f in REQUIRED[kind] if _get(doc, f) in (None, [], {})]
    if "Deployment" in by_kind:
        containers = _get(by_kind["Deployment"], "spec.template.spec.containers") or []
        triton = next((c for c in containers if "tritonserver" in str(c.get("args", ""))), None)
        if triton is None:
            problems.append("Deployment: no tritonserver container")
        else:
            if _get(triton, "readinessProbe.httpGet.path") != "/v2/health/ready":
                problems.append("Deployment: readiness probe is not /v2/health/ready")
            if _get(triton, "livenessProbe.httpGet.path") != "/v2/health/live":
                problems.append("Deployment: liveness probe is not /v2/health/live")
            if not _get(triton, "resources.limits") or "nvidia.com/gpu" not in triton["resources"]["limits"]:
                problems.append("Deployment: no nvidia.com/gpu limit")
        pod_labels = _get(by_kind["Deployment"], "spec.template.metadata.labels") or {}
        if pod_labels != _get(by_kind["Deployment"], "spec.selector.matchLabels"):
            problems.append("Deployment: selector does not match the pod labels")
        if "Service" in by_kind and any(pod_labels.get(k) != v for k, v in (_get(by_kind["Service"], "spec.selector") or {}).items()):
            problems.append("Service: selector does not select the Deployment's pods")
    if "HorizontalPodAutoscaler" in by_kind:
        hpa = by_kind["HorizontalPodAutoscaler"]
        if "Deployment" in by_kind and _get(hpa, "spec.scaleTargetRef.name") != _get(by_kind["Deployment"], "metadata.name"):
            problems.append("HorizontalPodAutoscaler: does not target the Deployment")
        if (_get(hpa, "spec.minReplicas") or 0) > (_get(hpa, "spec.maxReplicas") or 0):
            problems.append("HorizontalPodAutoscaler: minReplicas > maxReplicas")
    if "InferenceService" in by_kind:
        model = _get(by_kind["InferenceService"], "spec.predictor.model") or {}
        if model.get("runtime") != "kserve-tritonserver":
            problems.append("InferenceService: runtime is not kserve-tritonserver")
        if "nvidia.com/gpu" not in (_get(model, "resources.limits") or {}):
            problems.append("InferenceService: no nvidia.com/gpu limit")
    return problems
