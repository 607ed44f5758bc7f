{{/* Labels on every object; the managed-by label is Helm's, as usual for a chart. */}}
{{- define "sandbox-access.labels" -}}
app.kubernetes.io/name: sandbox-access
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: k8s-dev-sandbox
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* The ClusterRole the engine binds to itself in each sandbox namespace. */}}
{{- define "sandbox-access.sandboxRole" -}}
{{- printf "%s:sandbox" .Values.name }}
{{- end }}

{{/* The RBAC subjects acting as the engine: the ServiceAccount and the extra ones. */}}
{{- define "sandbox-access.subjects" -}}
{{- if .Values.serviceAccount.name }}
- kind: ServiceAccount
  name: {{ .Values.serviceAccount.name }}
  namespace: {{ .Release.Namespace }}
{{- end }}
{{- range .Values.subjects }}
- kind: {{ .kind }}
  apiGroup: rbac.authorization.k8s.io
  name: {{ .name | quote }}
{{- end }}
{{- end }}

{{/*
A CEL condition true for requests by the engine's identities, so the
policies judge them and nobody else (admins, controllers). JSON string and
list literals are valid CEL.
*/}}
{{- define "sandbox-access.isEngine" -}}
{{- $users := list }}
{{- $groups := list }}
{{- if .Values.serviceAccount.name }}
{{- $users = append $users (printf "system:serviceaccount:%s:%s" .Release.Namespace .Values.serviceAccount.name) }}
{{- end }}
{{- range .Values.subjects }}
{{- if eq .kind "User" }}{{ $users = append $users .name }}{{ end }}
{{- if eq .kind "Group" }}{{ $groups = append $groups .name }}{{ end }}
{{- end }}
{{- printf "request.userInfo.username in %s || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in %s))" (toJson $users) (toJson $groups) }}
{{- end }}

{{/* CEL: the object `o` carries the engine's managed-by label (src/domain/metadata.ts). */}}
{{- define "sandbox-access.managed" -}}
{{- printf "has(%s.metadata.labels) && 'app.kubernetes.io/managed-by' in %s.metadata.labels && %s.metadata.labels['app.kubernetes.io/managed-by'] == 'k8s-dev-sandbox'" . . . }}
{{- end }}

{{/* CEL string literal of the namespace prefix. */}}
{{- define "sandbox-access.prefix" -}}
{{- toJson .Values.namespacePrefix }}
{{- end }}

{{/* CEL: true for requests by the sweepers (sweepers: only list and delete namespaces). */}}
{{- define "sandbox-access.isSweeper" -}}
{{- $users := list }}
{{- $groups := list }}
{{- range .Values.sweepers }}
{{- if eq .kind "User" }}{{ $users = append $users .name }}{{ end }}
{{- if eq .kind "Group" }}{{ $groups = append $groups .name }}{{ end }}
{{- end }}
{{- printf "request.userInfo.username in %s || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in %s))" (toJson $users) (toJson $groups) }}
{{- end }}
