{{/* Names: <release>-shopgraph (or the release name if it holds "shopgraph"), short enough for suffixes. */}}
{{- define "shopgraph.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 32 | trimSuffix "-" -}}
{{- end -}}

{{- define "shopgraph.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 32 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 32 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 32 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of one component's objects: dict "root" $ "component" "users". */}}
{{- define "shopgraph.componentName" -}}
{{- printf "%s-%s" (include "shopgraph.fullname" .root) .component -}}
{{- end -}}

{{- define "shopgraph.selectorLabels" -}}
app.kubernetes.io/name: {{ include "shopgraph.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "shopgraph.labels" -}}
{{ include "shopgraph.selectorLabels" . }}
app.kubernetes.io/part-of: shopgraph
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* A pod selector term matching one component of this release. */}}
{{- define "shopgraph.peer" -}}
- podSelector:
    matchLabels:
      {{- include "shopgraph.selectorLabels" . | nindent 6 }}
{{- end -}}

{{/* A subgraph's settings: subgraphDefaults overridden by subgraphs.<name>. */}}
{{- define "shopgraph.subgraphSettings" -}}
{{- $settings := mergeOverwrite (deepCopy .root.Values.subgraphDefaults) (deepCopy (index .root.Values.subgraphs .name)) -}}
{{- toYaml $settings -}}
{{- end -}}

{{/* A pinned image reference: refuses an empty tag and `latest`. dict "image" "repo:tag" "what" "..." */}}
{{- define "shopgraph.pinned" -}}
{{- $parts := splitList ":" (last (splitList "/" .image)) -}}
{{- if or (lt (len $parts) 2) (eq (last $parts) "") (eq (last $parts) "latest") -}}
{{- fail (printf "%s: the image %q must name a pinned tag (not latest)" .what .image) -}}
{{- end -}}
{{- .image -}}
{{- end -}}

{{- define "shopgraph.subgraphImage" -}}
{{- $image := .root.Values.image -}}
{{- $repository := printf "%s%s" $image.repositoryPrefix .name -}}
{{- if $image.registry -}}
{{- $repository = printf "%s/%s" (trimSuffix "/" $image.registry) $repository -}}
{{- end -}}
{{- include "shopgraph.pinned" (dict "image" (printf "%s:%s" $repository (toString $image.tag)) "what" "image.tag") -}}
{{- end -}}

{{/* Prometheus' scrape annotations for a pod serving /metrics on this port (metrics.scrapeAnnotations). */}}
{{- define "shopgraph.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ . | quote }}
prometheus.io/path: /metrics
{{- end -}}

{{/* Secret names: the user's existing Secret, or the one this chart makes. */}}
{{- define "shopgraph.usersSecret" -}}
{{- .Values.secrets.users.existingSecret | default (printf "%s-users" (include "shopgraph.fullname" .)) -}}
{{- end -}}

{{- define "shopgraph.paymentsSecret" -}}
{{- .Values.secrets.payments.existingSecret | default (printf "%s-payments" (include "shopgraph.fullname" .)) -}}
{{- end -}}

{{- define "shopgraph.storesSecret" -}}
{{- if .Values.dev.stores.enabled -}}
{{- printf "%s-stores" (include "shopgraph.fullname" .) -}}
{{- else -}}
{{- .Values.stores.existingSecret | default (printf "%s-stores" (include "shopgraph.fullname" .)) -}}
{{- end -}}
{{- end -}}

{{/* The container securityContext every container gets. */}}
{{- define "shopgraph.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "shopgraph.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .runAsUser }}
runAsGroup: {{ .runAsGroup }}
fsGroup: {{ .runAsGroup }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Spread a component's pods over nodes when the cluster has several. */}}
{{- define "shopgraph.topologySpread" -}}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels:
        {{- include "shopgraph.selectorLabels" . | nindent 8 }}
{{- end -}}

{{/* The in-chart development stores: name, image kind, and the components that may reach each. */}}
{{- define "shopgraph.devStores" -}}
- name: users-mongodb
  kind: mongodb
  clients: [users]
- name: orders-mongodb
  kind: mongodb
  clients: [orders]
- name: payments-mongodb
  kind: mongodb
  clients: [payments]
- name: delivery-redis
  kind: redis
  clients: [delivery]
- name: events-redis
  kind: redis
  clients: [orders, payments, delivery]
{{- end -}}

{{/* An egress rule to the cluster DNS (the peers in networkPolicy.egress.dns). */}}
{{- define "shopgraph.dnsEgress" -}}
- to:
    {{- toYaml . | nindent 4 }}
  ports:
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
{{- end -}}

{{/* A required password of the users service, checked against its length rules. */}}
{{- define "shopgraph.password" -}}
{{- $value := required (printf "%s is required (8 to 128 characters), or name a Secret in %s" .key .existing) .value -}}
{{- if or (lt (len $value) 8) (gt (len $value) 128) -}}
{{- fail (printf "%s must be 8 to 128 characters long (the users service refuses others)" .key) -}}
{{- end -}}
{{- $value -}}
{{- end -}}
