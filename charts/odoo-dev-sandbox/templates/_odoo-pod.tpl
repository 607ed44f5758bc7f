{{/* Database connection for the Odoo containers: HOST/PORT/USER for the
image's entrypoint, PG* for psql and libpq in the init step. No password:
it is in the rendered odoo.conf and the libpq password file (PGPASSFILE),
both 0600 on the pod's own emptyDir, never in argv or the environment. */}}
{{- define "odoo-dev-sandbox.odooDatabaseEnv" -}}
- name: ODOO_RC
  value: /run/odoo/odoo.conf
- name: PGPASSFILE
  value: /run/odoo/pgpass
- name: HOST
  value: {{ include "odoo-dev-sandbox.postgresHost" . | quote }}
- name: PORT
  value: {{ .Values.postgres.port | quote }}
- name: USER
  value: {{ .Values.postgres.username | quote }}
- name: PGHOST
  value: {{ include "odoo-dev-sandbox.postgresHost" . | quote }}
- name: PGPORT
  value: {{ .Values.postgres.port | quote }}
- name: PGUSER
  value: {{ .Values.postgres.username | quote }}
{{- end }}

{{- define "odoo-dev-sandbox.odooVolumeMounts" -}}
- name: run-config
  mountPath: /run/odoo
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
