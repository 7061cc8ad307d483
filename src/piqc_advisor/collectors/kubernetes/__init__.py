"""Kubernetes manifests: objects, pod templates, containers and the links between them."""
