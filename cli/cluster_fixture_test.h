#pragma once

// A small cluster the matrix and explain tests share: in team-a a web pod and
// a database only the web pod may reach on 5432, and cluster DNS in
// kube-system.

#include <string_view>

namespace palisade::cli::testing {

inline constexpr std::string_view kSmallCluster = R"(apiVersion: v1
kind: Namespace
metadata:
  name: team-a
---
apiVersion: v1
kind: Namespace
metadata:
  name: kube-system
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: team-a
  labels:
    app: web
spec:
  containers:
  - name: web
    ports:
    - name: http
      containerPort: 8080
status:
  podIP: 10.244.1.10
---
apiVersion: v1
kind: Pod
metadata:
  name: db
  namespace: team-a
  labels:
    app: db
spec:
  containers:
  - name: postgres
    ports:
    - name: postgres
      containerPort: 5432
status:
  podIP: 10.244.1.11
---
apiVersion: v1
kind: Pod
metadata:
  name: coredns
  namespace: kube-system
  labels:
    k8s-app: kube-dns
spec:
  containers:
  - name: coredns
    ports:
    - name: dns
      containerPort: 53
      protocol: UDP
status:
  podIP: 10.244.0.2
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: db-from-web
  namespace: team-a
spec:
  podSelector:
    matchLabels:
      app: db
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: web
    ports:
    - port: 5432
)";

}  // namespace palisade::cli::testing
