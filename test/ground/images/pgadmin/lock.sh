#!/bin/sh
# Regenerates requirements.txt: pgAdmin 4 and gunicorn at the versions named
# here, with every dependency pinned by version and sha256, as pip resolves
# them for CPython 3.11 on x86_64 glibc (bookworm's Python). Needs Python 3.11
# and PyPI; the image build itself installs only what this file names
# (pip --require-hashes). Run from anywhere: ./lock.sh
set -eu
PGADMIN_VERSION=9.18
GUNICORN_VERSION=27.0.1
here=$(cd "$(dirname "$0")" && pwd)
python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), "lock.sh needs Python 3.11, the image has it"'
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m pip download --quiet --prefer-binary --dest "$work" \
  "pgadmin4==$PGADMIN_VERSION" "gunicorn==$GUNICORN_VERSION"
python3 - "$work" "$here/requirements.txt" "$PGADMIN_VERSION" "$GUNICORN_VERSION" <<'PY'
import hashlib, os, re, sys
work, out, pgadmin, gunicorn = sys.argv[1:]
lines = []
for name in sorted(os.listdir(work), key=str.lower):
    if name.endswith(".whl"):
        project, version = name.split("-")[:2]
    elif name.endswith(".tar.gz"):
        project, version = name[: -len(".tar.gz")].rsplit("-", 1)
    else:
        sys.exit(f"unexpected download {name}")
    project = re.sub(r"[-_.]+", "-", project).lower()
    digest = hashlib.sha256(open(os.path.join(work, name), "rb").read()).hexdigest()
    lines.append(f"{project}=={version} --hash=sha256:{digest}  # {name}\n")
with open(out, "w") as f:
    f.write(f"# pgadmin4=={pgadmin} and gunicorn=={gunicorn} with their dependencies, made by lock.sh.\n")
    f.writelines(lines)
PY
echo "wrote $here/requirements.txt"
