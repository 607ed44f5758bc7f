{{/* Database connection for the Odoo containers: HOST/PORT/USER/PASSWORD for
the image's entrypoint, PG* for psql and libpq in the init step. */}}
{{- define "odoo-dev-sandbox.odooDatabaseEnv" -}}
{{- $secret := include "odoo-dev-sandbox.postgresSecretName" . -}}
- name: ODOO_RC
  value: /etc/odoo/odoo.conf
- name: HOST
  value: {{ include "odoo-dev-sandbox.postgresHost" . | quote }}
- name: PORT
  value: {{ .Values.postgres.port | quote }}
- name: USER
  value: {{ .Values.postgres.username | quote }}
- name: PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: password
- name: PGHOST
  value: {{ include "odoo-dev-sandbox.postgresHost" . | quote }}
- name: PGPORT
  value: {{ .Values.postgres.port | quote }}
- name: PGUSER
  value: {{ .Values.postgres.username | quote }}
- name: PGPASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: password
{{- end }}

{{- define "odoo-dev-sandbox.odooVolumeMounts" -}}
- name: config
  mountPath: /etc/odoo
  readOnly: true
- name: data
  mountPath: /var/lib/odoo
- name: tmp
  mountPath: /tmp
{{- if include "odoo-dev-sandbox.mountsWorktree" . }}
- name: addons
  mountPath: {{ .Values.odoo.extraAddonsPath }}
  readOnly: {{ .Values.sandbox.local.readOnly }}
{{- end }}
{{- end }}
