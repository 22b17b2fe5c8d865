{{/*
Names. The prefix is cut at 40 characters so that the longest object name
built on it ("-webhook-tls" and the like) stays a valid 63-character label.
*/}}
{{- define "palisade.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "palisade.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "palisade.webhook.fullname" -}}
{{- printf "%s-webhook" (include "palisade.fullname" .) -}}
{{- end -}}

{{- define "palisade.enforcer.fullname" -}}
{{- printf "%s-enforcer" (include "palisade.fullname" .) -}}
{{- end -}}

{{- define "palisade.webhook.serviceAccountName" -}}
{{- default (include "palisade.webhook.fullname" .) .Values.webhook.serviceAccount.name -}}
{{- end -}}

{{- define "palisade.enforcer.serviceAccountName" -}}
{{- default (include "palisade.enforcer.fullname" .) .Values.enforcer.serviceAccount.name -}}
{{- end -}}

{{- define "palisade.tlsSecretName" -}}
{{- default (printf "%s-webhook-tls" (include "palisade.fullname" .)) .Values.certs.secretName -}}
{{- end -}}

{{/* The cert-manager Certificate whose CA is injected into the webhook configurations. */}}
{{- define "palisade.servingCertificateName" -}}
{{- printf "%s-webhook-tls" (include "palisade.fullname" .) -}}
{{- end -}}

{{- define "palisade.image" -}}
{{- printf "%s:%s" .image.repository (default .chart.AppVersion .image.tag) -}}
{{- end -}}

{{/* Labels. */}}
{{- define "palisade.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "palisade.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: palisade
{{- end -}}

{{- define "palisade.selectorLabels" -}}
app.kubernetes.io/name: {{ include "palisade.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "palisade.webhook.selectorLabels" -}}
{{ include "palisade.selectorLabels" . }}
app.kubernetes.io/component: webhook
{{- end -}}

{{- define "palisade.enforcer.selectorLabels" -}}
{{ include "palisade.selectorLabels" . }}
app.kubernetes.io/component: enforcer
{{- end -}}

{{/*
The namespaces neither webhook is ever called for. kube-system, kube-public,
kube-node-lease and the release namespace are written here, not taken from
values: no value can remove them, so no value can make the control plane
(or Palisade's own pods) wait on Palisade. exemptNamespaces only adds.
*/}}
{{- define "palisade.alwaysExemptNamespaces" -}}
{{- list "kube-system" "kube-public" "kube-node-lease" .Release.Namespace | toJson -}}
{{- end -}}

{{- define "palisade.exemptNamespaces" -}}
{{- $always := include "palisade.alwaysExemptNamespaces" . | fromJsonArray -}}
{{- concat $always (.Values.exemptNamespaces | default list) | uniq | toJson -}}
{{- end -}}

{{/*
The webhooks' namespaceSelector. On a Namespace object the apiserver matches
it against the namespace's own labels; kubernetes.io/metadata.name is set on
every namespace by the apiserver, so exempting by name works for Namespace
objects and for the objects in them alike.
*/}}
{{- define "palisade.namespaceSelector" -}}
matchExpressions:
  - key: kubernetes.io/metadata.name
    operator: NotIn
    values: {{ include "palisade.exemptNamespaces" . }}
{{- end -}}

{{/*
Checks the schema cannot express, or that must hold even when the schema is
skipped (helm --skip-schema-validation): every template that depends on them
includes this, so rendering stops with a message naming the value.
*/}}
{{- define "palisade.validate" -}}
{{- $dns1123 := "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$" -}}
{{- if not (kindIs "slice" (.Values.exemptNamespaces | default list)) -}}
{{- fail "exemptNamespaces must be a list of namespace names" -}}
{{- end -}}
{{- range (.Values.exemptNamespaces | default list) -}}
{{- if or (not (kindIs "string" .)) (gt (len (toString .)) 63) (not (regexMatch $dns1123 (toString .))) -}}
{{- fail (printf "exemptNamespaces: %v is not a namespace name (a DNS-1123 label). The list only adds exemptions; kube-system, kube-public, kube-node-lease and the release namespace are always exempt" .) -}}
{{- end -}}
{{- end -}}
{{- range $key := list "namespaceSelector" "objectSelector" "rules" "alwaysExemptNamespaces" -}}
{{- if hasKey $.Values.webhook $key -}}
{{- fail (printf "webhook.%s cannot be set: the webhooks always exempt kube-system, kube-public, kube-node-lease and the release namespace, and match only the objects Palisade checks. Add namespaces to exemptNamespaces instead" $key) -}}
{{- end -}}
{{- end -}}
{{- if hasKey .Values "alwaysExemptNamespaces" -}}
{{- fail "alwaysExemptNamespaces cannot be set: kube-system, kube-public, kube-node-lease and the release namespace are always exempt. Add namespaces to exemptNamespaces instead" -}}
{{- end -}}
{{- range $key := list "palisadeNamespace" "serviceAccount" "exemptNamespaces" -}}
{{- if hasKey $.Values.config $key -}}
{{- fail (printf "config.%s cannot be set: the chart writes it (palisadeNamespace is the release namespace, serviceAccount the webhook's ServiceAccount, exemptNamespaces the top-level value exemptNamespaces)" $key) -}}
{{- end -}}
{{- end -}}
{{- if not (has .Values.webhook.failurePolicy (list "Fail" "Ignore")) -}}
{{- fail (printf "webhook.failurePolicy must be Fail or Ignore, got %v" .Values.webhook.failurePolicy) -}}
{{- end -}}
{{- $timeout := .Values.webhook.timeoutSeconds | int -}}
{{- if or (lt $timeout 1) (gt $timeout 10) -}}
{{- fail (printf "webhook.timeoutSeconds must be from 1 to 10, got %v: the apiserver waits that long on every request the webhooks match" .Values.webhook.timeoutSeconds) -}}
{{- end -}}
{{- if not (has .Values.certs.mode (list "certManager" "provided")) -}}
{{- fail (printf "certs.mode must be certManager or provided, got %v" .Values.certs.mode) -}}
{{- end -}}
{{- if eq .Values.certs.mode "provided" -}}
{{- if not .Values.certs.caBundle -}}
{{- fail "certs.caBundle is required when certs.mode is provided: set it to the caBundle that `palisadectl certs` printed (base64 of the CA certificate in PEM), e.g. --set certs.caBundle=$(cat ca-bundle.txt)" -}}
{{- end -}}
{{- if not (contains "-----BEGIN CERTIFICATE-----" (b64dec .Values.certs.caBundle)) -}}
{{- fail "certs.caBundle must be base64 of a PEM CA certificate (-----BEGIN CERTIFICATE-----...), as `palisadectl certs` prints it; the PEM text itself is not accepted" -}}
{{- end -}}
{{- else if .Values.certs.caBundle -}}
{{- fail "certs.caBundle is used only with certs.mode=provided: with certManager, cert-manager injects the CA" -}}
{{- end -}}
{{- if .Values.enforcer.enabled -}}
{{- if not (has .Values.enforcer.mode (list "enforce" "audit")) -}}
{{- fail (printf "enforcer.mode must be enforce or audit, got %v" .Values.enforcer.mode) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The enforcer's security context. Not privileged: it gets exactly the
capabilities that loading and attaching tc BPF programs needs (README.md,
"The enforcer's privileges"):
  BPF          bpf(): load programs, create, pin and update maps (kernel 5.8+;
               before it only CAP_SYS_ADMIN could, which is never granted).
  NET_ADMIN    tc programs (BPF_PROG_TYPE_SCHED_CLS) are networking programs:
               loading them needs it besides CAP_BPF; and attaching the clsact
               qdisc and filters over rtnetlink, and reading the node's links
               and routes to find each pod's veth.
  PERFMON      without it the verifier applies the Spectre mitigations of
               unprivileged loading: it rejects or masks pointer arithmetic
               with variable offsets (into map values, packets, ring buffer
               records) and refuses pointer comparisons.
  SYS_RESOURCE only with enforcer.memlockCapability: on kernels before 5.11
               BPF maps count against RLIMIT_MEMLOCK, and libbpf raising it
               past the hard limit needs this capability.
It runs as uid 0 because Kubernetes cannot give a non-root process
capabilities: the runtime's added capabilities are lost at exec for a non-root
user (no ambient capabilities), and file capabilities would need
allowPrivilegeEscalation. As root with no_new_privs and a bounding set of
these capabilities, it holds nothing else: no CAP_SYS_ADMIN (no mounts), no
CAP_DAC_OVERRIDE (files only as their modes let uid 0 use them).
*/}}
{{- define "palisade.enforcer.securityContext" -}}
runAsUser: 0
runAsNonRoot: false
privileged: false
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
  add:
    - BPF
    - NET_ADMIN
    - PERFMON
    {{- if .Values.enforcer.memlockCapability }}
    - SYS_RESOURCE
    {{- end }}
seccompProfile:
  {{- toYaml .Values.enforcer.seccompProfile | nindent 2 }}
{{- end -}}

{{/*
HostToContainer, not Bidirectional: the enforcer creates files in the host's
BPF filesystem (pins), never new mounts, so mounts need only propagate from
the host (a bpffs mounted on /sys/fs/bpf after the pod started). The
apiserver also accepts Bidirectional only on privileged containers.
*/}}
{{- define "palisade.enforcer.volumeMounts" -}}
- name: bpffs
  mountPath: /sys/fs/bpf
  mountPropagation: HostToContainer
- name: btf
  mountPath: /sys/kernel/btf/vmlinux
  readOnly: true
{{- end -}}
