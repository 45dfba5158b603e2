"""Manifest texts the integration tests push to Git."""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  progressDeadlineSeconds: 600
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: nginx
          image: {image}
          ports:
            - containerPort: 80
          resources:
            requests: {{cpu: 100m, memory: 64Mi}}
            limits: {{cpu: "1", memory: 128Mi}}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
    - port: 80
      targetPort: 80
"""

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: {name}
data:
  greeting: {greeting}
"""

INGRESS = """\
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
spec:
  rules:
    - host: {name}.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service: {{name: {name}, port: {{number: 80}}}}
"""


def deployment(name: str = "web", image: str = "nginx:1.25", replicas: int = 0) -> str:
    return DEPLOYMENT.format(name=name, image=image, replicas=replicas)


def service(name: str = "web") -> str:
    return SERVICE.format(name=name)


def configmap(name: str = "settings", greeting: str = "hello") -> str:
    return CONFIGMAP.format(name=name, greeting=greeting)


def ingress(name: str = "web") -> str:
    return INGRESS.format(name=name)


def crd(group: str, kind: str = "Widget", plural: str = "widgets") -> str:
    """A namespaced v1 CRD with an integer spec.size and a defaulted spec.mode."""
    return f"""\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: {plural}.{group}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: {plural}, singular: {kind.lower()}, kind: {kind}}}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties: {{size: {{type: integer}}, mode: {{type: string, default: fast}}}}
"""
