{{/*
Names. Kubernetes names and label values stop at 63 characters; component
names are cut after the suffix is added so two components never collide.
*/}}
{{- define "odoo-dev-sandbox.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "odoo-dev-sandbox.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* "<fullname>-<component>" in 63 characters: the prefix is cut, never the
component, so two components never end up with the same name.
(usage: include ... (list $ "odoo")) */}}
{{- define "odoo-dev-sandbox.componentName" -}}
{{- $component := index . 1 }}
{{- $prefix := include "odoo-dev-sandbox.fullname" (index . 0) | trunc (int (sub 62 (len $component))) | trimSuffix "-" }}
{{- printf "%s-%s" $prefix $component }}
{{- end }}

{{/*
A StatefulSet's pods carry a controller-revision-hash label "<name>-<hash>";
keeping the StatefulSet name at 52 characters keeps that label valid.
*/}}
{{- define "odoo-dev-sandbox.postgresName" -}}
{{- printf "%s-postgres" (include "odoo-dev-sandbox.fullname" . | trunc 43 | trimSuffix "-") }}
{{- end }}

{{- define "odoo-dev-sandbox.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "odoo-dev-sandbox.labels" -}}
helm.sh/chart: {{ include "odoo-dev-sandbox.chart" . }}
{{ include "odoo-dev-sandbox.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: odoo-dev-sandbox
{{- with .Values.sandbox.key }}
k8s-dev-sandbox/key: {{ . | quote }}
{{- end }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selectors name only the chart and the release (they are immutable). */}}
{{- define "odoo-dev-sandbox.selectorLabels" -}}
app.kubernetes.io/name: {{ include "odoo-dev-sandbox.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of one component's objects (usage: include ... (list $ "odoo")). */}}
{{- define "odoo-dev-sandbox.componentLabels" -}}
{{ include "odoo-dev-sandbox.labels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{- define "odoo-dev-sandbox.componentSelectorLabels" -}}
{{ include "odoo-dev-sandbox.selectorLabels" (index . 0) }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* metadata.annotations body (commonAnnotations), or nothing. */}}
{{- define "odoo-dev-sandbox.annotations" -}}
{{- with .Values.commonAnnotations }}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
metadata.annotations of a Secret holding generated passwords. Kept when the
release is uninstalled (recoverPending does that to a stuck release, and
postgres.persistence.deleteOnUninstall=false keeps the data): a reinstall
then reads the same passwords back, which the kept data still matches.
Deleting the namespace deletes them.
*/}}
{{- define "odoo-dev-sandbox.keptSecretAnnotations" -}}
annotations:
  {{- with .Values.commonAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
  helm.sh/resource-policy: keep
{{- end }}

{{/* Label that lets a pod reach PostgreSQL through the NetworkPolicy. */}}
{{- define "odoo-dev-sandbox.postgresClientLabel" -}}
k8s-dev-sandbox/postgres-client: "true"
{{- end }}

{{/* Mode switches. */}}
{{- define "odoo-dev-sandbox.isLocal" -}}
{{- if eq .Values.sandbox.mode "local" }}true{{- end }}
{{- end }}

{{/* Local mode with a worktree to mount (without one, Odoo runs on the image's addons). */}}
{{- define "odoo-dev-sandbox.mountsWorktree" -}}
{{- if and (include "odoo-dev-sandbox.isLocal" .) .Values.sandbox.local.addonsHostPath }}true{{- end }}
{{- end }}

{{/* The sandbox is served over https: the engine's URL says so (url-scheme),
or the values turn TLS on. Switches on the Ingress TLS block, nginx's
redirect to https, HSTS and secure cookies. */}}
{{- define "odoo-dev-sandbox.https" -}}
{{- if or .Values.ingress.tls.enabled (hasPrefix "https://" (.Values.sandbox.url | default "")) }}true{{- end }}
{{- end }}

{{- define "odoo-dev-sandbox.devModeOn" -}}
{{- if kindIs "bool" .Values.odoo.devMode }}
{{- if .Values.odoo.devMode }}true{{- end }}
{{- else if include "odoo-dev-sandbox.isLocal" . }}true
{{- end }}
{{- end }}

{{/* Where Odoo finds PostgreSQL. */}}
{{- define "odoo-dev-sandbox.postgresHost" -}}
{{- if .Values.postgres.enabled }}
{{- include "odoo-dev-sandbox.postgresName" . }}
{{- else }}
{{- required "postgres.host is required when postgres.enabled is false" .Values.postgres.host }}
{{- end }}
{{- end }}

{{- define "odoo-dev-sandbox.odooSecretName" -}}
{{- include "odoo-dev-sandbox.componentName" (list . "odoo") }}
{{- end }}
{{- define "odoo-dev-sandbox.postgresSecretName" -}}
{{- include "odoo-dev-sandbox.componentName" (list . "postgres") }}
{{- end }}
{{- define "odoo-dev-sandbox.basicAuthSecretName" -}}
{{- include "odoo-dev-sandbox.componentName" (list . "basic-auth") }}
{{- end }}

{{/*
A secret value that survives upgrades: the value given in values, else the one
already stored in the live Secret, else a fresh random one. `lookup` answers
nothing under `helm template` and --dry-run=client, so those show a new value.
Usage: include "odoo-dev-sandbox.secretValue" (dict "ctx" $ "secret" NAME "key" KEY "given" VALUE)
*/}}
{{- define "odoo-dev-sandbox.secretValue" -}}
{{- if .given }}
{{- .given }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace .secret }}
{{- $stored := "" }}
{{- if $existing }}
{{- $stored = index ($existing.data | default dict) .key | default "" }}
{{- end }}
{{- if $stored }}
{{- $stored | b64dec }}
{{- else }}
{{- randAlphaNum 24 }}
{{- end }}
{{- end }}
{{- end }}

{{/* Pod-level security context for Pod Security "restricted" (usage: include ... (dict "uid" 100 "gid" 101)). */}}
{{- define "odoo-dev-sandbox.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .gid }}
fsGroup: {{ .gid }}
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Container-level security context (usage: include ... (dict "readOnly" true)). */}}
{{- define "odoo-dev-sandbox.containerSecurityContext" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: {{ .readOnly }}
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* Pod spec settings shared by every pod of the chart. */}}
{{- define "odoo-dev-sandbox.podCommon" -}}
serviceAccountName: {{ include "odoo-dev-sandbox.fullname" . }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.scheduling.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.scheduling.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.scheduling.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Startup probe attempts that cover a time window at the given pace:
ceil(seconds / period), so the window holds whatever probes.startupPeriodSeconds is.
*/}}
{{- define "odoo-dev-sandbox.startupAttempts" -}}
{{- add1 (div (sub .seconds 1) .period) }}
{{- end }}

{{/*
Quantities, so the ResourceQuota can be computed from the chart's own pods.
values.schema.json only admits the forms parsed here.
*/}}
{{- define "odoo-dev-sandbox.cpuMillis" -}}
{{- $v := toString . }}
{{- if hasSuffix "m" $v }}
{{- trimSuffix "m" $v | float64 | ceil | int64 }}
{{- else }}
{{- mulf (float64 $v) 1000 | ceil | int64 }}
{{- end }}
{{- end }}

{{- define "odoo-dev-sandbox.bytes" -}}
{{- $v := toString . }}
{{- $number := regexReplaceAll "^([0-9.]+)([A-Za-z]*)$" $v "${1}" }}
{{- $unit := regexReplaceAll "^([0-9.]+)([A-Za-z]*)$" $v "${2}" }}
{{- $factors := dict "" 1.0 "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 }}
{{- if not (hasKey $factors $unit) }}
{{- fail (printf "cannot read the quantity %q (use a plain number or k, M, G, T, Ki, Mi, Gi, Ti)" $v) }}
{{- end }}
{{- mulf (float64 $number) (index $factors $unit) | ceil | int64 }}
{{- end }}

{{/* cpu in millicores, memory in bytes (usage: include ... (dict "res" "cpu" "q" "250m")) */}}
{{- define "odoo-dev-sandbox.quantity" -}}
{{- if eq .res "cpu" }}
{{- include "odoo-dev-sandbox.cpuMillis" .q }}
{{- else }}
{{- include "odoo-dev-sandbox.bytes" .q }}
{{- end }}
{{- end }}

{{/*
What one pod counts against a quota: for each of requests and limits, the
larger of the biggest init container and the sum of the app containers.
Usage: include ... (dict "name" "odoo" "init" (list RES...) "main" (list RES...)) -> JSON
*/}}
{{- define "odoo-dev-sandbox.podFootprint" -}}
{{- $out := dict }}
{{- range $kind := list "requests" "limits" }}
{{- range $res := list "cpu" "memory" }}
{{- $sum := 0 }}
{{- range $r := $.main }}
{{- $q := index (index $r $kind) $res }}
{{- $sum = add $sum (include "odoo-dev-sandbox.quantity" (dict "res" $res "q" $q) | int64) }}
{{- end }}
{{- $initMax := 0 }}
{{- range $r := $.init }}
{{- $q := index (index $r $kind) $res }}
{{- $initMax = max $initMax (include "odoo-dev-sandbox.quantity" (dict "res" $res "q" $q) | int64) }}
{{- end }}
{{- $_ := set $out (printf "%s.%s" $kind $res) (max $sum $initMax) }}
{{- end }}
{{- end }}
{{- range $r := concat $.main $.init }}
{{- range $res := list "cpu" "memory" }}
{{- $req := index $r.requests $res }}
{{- $lim := index $r.limits $res }}
{{- $reqN := include "odoo-dev-sandbox.quantity" (dict "res" $res "q" $req) | int64 }}
{{- $limN := include "odoo-dev-sandbox.quantity" (dict "res" $res "q" $lim) | int64 }}
{{- if gt $reqN $limN }}
{{- fail (printf "%s: the %s request (%v) is larger than its limit (%v)" $.name $res $req $lim) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $out }}
{{- end }}

{{/* The pods of this release and how many of each can exist at once -> JSON list */}}
{{- define "odoo-dev-sandbox.pods" -}}
{{- $v := .Values }}
{{- $pods := list }}
{{- $odoo := include "odoo-dev-sandbox.podFootprint" (dict "name" "odoo" "init" (list $v.odoo.init.resources) "main" (list $v.odoo.resources)) | fromJson }}
{{- /* Recreate strategy: never two Odoo pods at once. */}}
{{- $pods = append $pods (dict "name" "odoo" "count" 1 "footprint" $odoo) }}
{{- if $v.postgres.enabled }}
{{- $pods = append $pods (dict "name" "postgres" "count" 1 "footprint" (include "odoo-dev-sandbox.podFootprint" (dict "name" "postgres" "init" list "main" (list $v.postgres.resources)) | fromJson)) }}
{{- end }}
{{- if $v.nginx.enabled }}
{{- /* RollingUpdate with maxSurge 1: one extra pod during a rollout. */}}
{{- $pods = append $pods (dict "name" "nginx" "count" (add $v.nginx.replicas 1) "footprint" (include "odoo-dev-sandbox.podFootprint" (dict "name" "nginx" "init" list "main" (list $v.nginx.resources)) | fromJson)) }}
{{- end }}
{{- if and $v.pgadmin.enabled $v.nginx.enabled }}
{{- $pods = append $pods (dict "name" "pgadmin" "count" 1 "footprint" (include "odoo-dev-sandbox.podFootprint" (dict "name" "pgadmin" "init" list "main" (list $v.pgadmin.resources)) | fromJson)) }}
{{- end }}
{{- if $v.tests.enabled }}
{{- $pods = append $pods (dict "name" "test" "count" 1 "footprint" (include "odoo-dev-sandbox.podFootprint" (dict "name" "tests" "init" list "main" (list $v.tests.resources)) | fromJson)) }}
{{- end }}
{{- if gt (int $v.resourceQuota.headroomPods) 0 }}
{{- $pods = append $pods (dict "name" "headroom" "count" (int $v.resourceQuota.headroomPods) "footprint" $odoo) }}
{{- end }}
{{- toJson $pods }}
{{- end }}

{{/* Persistent volume claims of this release -> JSON list of {name, bytes} */}}
{{- define "odoo-dev-sandbox.claims" -}}
{{- $v := .Values }}
{{- $claims := list (dict "name" "odoo-data" "bytes" (include "odoo-dev-sandbox.bytes" $v.odoo.persistence.size | int64)) }}
{{- if $v.postgres.enabled }}
{{- $claims = append $claims (dict "name" "postgres-data" "bytes" (include "odoo-dev-sandbox.bytes" $v.postgres.persistence.size | int64)) }}
{{- end }}
{{- if include "odoo-dev-sandbox.mountsWorktree" . }}
{{- $claims = append $claims (dict "name" "addons" "bytes" (include "odoo-dev-sandbox.bytes" $v.sandbox.local.size | int64)) }}
{{- end }}
{{- toJson $claims }}
{{- end }}

{{/* Image of the helm test pod. */}}
{{- define "odoo-dev-sandbox.testImage" -}}
{{- default .Values.nginx.image .Values.tests.image }}
{{- end }}
