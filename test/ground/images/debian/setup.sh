#!/bin/sh
# Turns the debootstrap'ed bookworm tree into the ground's base image. Runs
# inside it (buildah run) after images.ts has copied in the apt sources of the
# host (bookworm, bookworm-updates, bookworm-security), so packages match the
# host's versions. Kept small like Debian's own container images: no docs,
# man pages or translations, no apt caches or lists.
set -eux

# Containers have no init system: a package's maintainer script must never
# try to start its daemon (postgresql, nginx) while an image is built.
printf '#!/bin/sh\n# No daemons start in an image build.\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d

# Derived images install with --no-install-recommends anyway; this keeps a
# forgotten flag (e.g. in a Dockerfile built FROM these images) from doubling
# an image. No translated package descriptions either.
cat >/etc/apt/apt.conf.d/90ground <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
CONF

# Documentation is of no use in a container; copyright files stay (licences).
cat >/etc/dpkg/dpkg.cfg.d/90ground-slim <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
CONF

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get -y -o Dpkg::Options::=--force-confold dist-upgrade
apt-get clean

# What debootstrap installed before the excludes existed.
find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/info/* /usr/share/lintian/*
find /usr/share/locale -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +

rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/lib/dpkg/*-old \
  /var/log/apt/* /var/log/*.log /var/log/bootstrap.log /tmp/* /var/tmp/*
