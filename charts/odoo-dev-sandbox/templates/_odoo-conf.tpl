{{/*
odoo.conf. The entrypoint of the official image reads db_host/db_port/db_user
from here with `cut -d " " -f3`, so every line is exactly "key = value".
*/}}
{{- define "odoo-dev-sandbox.odooConf" -}}
{{- $ := .ctx }}
{{- $o := $.Values.odoo -}}
[options]
admin_passwd = {{ .adminPassword }}
db_host = {{ include "odoo-dev-sandbox.postgresHost" $ }}
db_port = {{ $.Values.postgres.port }}
db_user = {{ $.Values.postgres.username }}
db_name = {{ $o.database }}
dbfilter = ^{{ regexQuoteMeta $o.database }}$
list_db = False
proxy_mode = True
data_dir = /var/lib/odoo
addons_path = {{ join "," .addons }}
without_demo = {{ ternary "False" "all" $o.demoData }}
workers = {{ $o.workers }}
{{- if gt (int $o.workers) 0 }}
gevent_port = 8072
{{- end }}
max_cron_threads = {{ $o.maxCronThreads }}
log_level = {{ $o.logLevel }}
{{- $reserved := list "admin_passwd" "db_host" "db_port" "db_user" "db_password" "db_name" "dbfilter" "list_db" "proxy_mode" "data_dir" "addons_path" "without_demo" "workers" "gevent_port" "max_cron_threads" "log_level" }}
{{- range $key, $value := $o.extraConfig }}
{{- if has $key $reserved }}
{{- fail (printf "odoo.extraConfig.%s is set by the chart; use the matching odoo.* value instead" $key) }}
{{- end }}
{{ $key }} = {{ $value }}
{{- end }}
{{ end }}
