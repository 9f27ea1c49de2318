"""Running e-BOK: the local run (``python -m deploy.local``), the container image and the
Kubernetes manifests. Nothing here is imported by the services themselves."""
