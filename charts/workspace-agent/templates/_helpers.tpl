{{/* Names and labels. */}}
{{- define "workspace-agent.fullname" -}}
{{- printf "%s-workspace-agent" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "workspace-agent.selectorLabels" -}}
app.kubernetes.io/name: workspace-agent
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "workspace-agent.labels" -}}
{{ include "workspace-agent.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: k8s-dev-sandbox
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Where the workspaces live: their own namespace, or the release's. */}}
{{- define "workspace-agent.workspacesNamespace" -}}
{{- .Values.workspaces.namespace | default .Release.Namespace }}
{{- end }}

{{- define "workspace-agent.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The Secret with the API key: the user's, or the chart's own. */}}
{{- define "workspace-agent.authSecret" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "workspace-agent.fullname" .)) }}
{{- end }}

{{/* Pod Security "restricted" for a pod running as uid/gid 1000. */}}
{{- define "workspace-agent.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "workspace-agent.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end }}
