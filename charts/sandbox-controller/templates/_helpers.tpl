{{/* Names and labels. */}}
{{- define "sandbox-controller.fullname" -}}
{{- printf "%s-sandbox-controller" .Release.Name | trunc 52 | trimSuffix "-" }}
{{- end }}

{{/* The sweep's objects (CronJob, ServiceAccount): <fullname>-sweep, within 63 characters and CronJob's 52. */}}
{{- define "sandbox-controller.sweepName" -}}
{{- printf "%s-sweep" (include "sandbox-controller.fullname" .) | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "sandbox-controller.selectorLabels" -}}
app.kubernetes.io/name: sandbox-controller
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sandbox-controller.labels" -}}
{{ include "sandbox-controller.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: k8s-dev-sandbox
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{- define "sandbox-controller.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The user names RBAC and the admission policies see for the two ServiceAccounts (for sandbox-access's subjects and sweepers). */}}
{{- define "sandbox-controller.controllerUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "sandbox-controller.fullname" .) }}
{{- end }}
{{- define "sandbox-controller.sweepUser" -}}
{{- printf "system:serviceaccount:%s:%s" .Release.Namespace (include "sandbox-controller.sweepName" .) }}
{{- end }}

{{/* The delivery ledger's ConfigMaps (src/adapters/kubernetes/delivery-ledger.ts: 16 shards). */}}
{{- define "sandbox-controller.ledgerNames" -}}
{{- range $n := until 16 }}
- {{ printf "k8s-sandbox-deliveries-%02d" $n | quote }}
{{- end }}
{{- end }}

{{/* Pod Security "restricted", as the image's own user (uid/gid 1000). */}}
{{- define "sandbox-controller.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "sandbox-controller.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end }}

{{- define "sandbox-controller.scheduling" -}}
{{- with .Values.scheduling.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.scheduling.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}
