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
{{- /* Prefork: each process (HTTP workers, cron workers, the gevent one) is
      recycled past limit_memory_soft and killed past limit_memory_hard.
      Odoo's defaults (2 and 2.5 GiB per process) exceed any container
      limit once there are a few processes, and the kernel's OOM kill takes
      the whole pod: share the container limit between the processes. */}}
{{- $processes := add (int $o.workers) (int $o.maxCronThreads) 1 }}
{{- $limit := include "odoo-dev-sandbox.bytes" $o.resources.limits.memory | int64 }}
{{- $hard := div (mul $limit 9) (mul $processes 10) }}
{{- if not (hasKey $o.extraConfig "limit_memory_hard") }}
limit_memory_hard = {{ $hard }}
{{- end }}
{{- if not (hasKey $o.extraConfig "limit_memory_soft") }}
limit_memory_soft = {{ div (mul $hard 4) 5 }}
{{- end }}
{{- /* A request the proxy gave up on is not worth finishing; one the proxy
      still waits for must not be killed first. */}}
{{- if not (hasKey $o.extraConfig "limit_time_real") }}
limit_time_real = {{ int64 $.Values.nginx.proxyTimeoutSeconds }}
{{- end }}
{{- end }}
max_cron_threads = {{ $o.maxCronThreads }}
log_level = {{ $o.logLevel }}
{{- $reserved := list "admin_passwd" "db_host" "db_port" "db_user" "db_password" "db_name" "dbfilter" "list_db" "proxy_mode" "data_dir" "addons_path" "without_demo" "workers" "gevent_port" "max_cron_threads" "log_level" }}
{{- range $key, $value := $o.extraConfig }}
{{- if has $key $reserved }}
{{- fail (printf "odoo.extraConfig.%s is set by the chart; use the matching odoo.* value instead" $key) }}
{{- end }}
{{- /* YAML numbers arrive as float64: print whole ones as integers
      (limit_memory_hard: 1000000000, not 1e+09, which Odoo cannot read). */}}
{{ $key }} = {{ if and (kindIs "float64" $value) (eq (floor $value) $value) }}{{ int64 $value }}{{ else }}{{ $value }}{{ end }}
{{- end }}
{{ end }}
