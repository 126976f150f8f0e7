#!/usr/bin/env bash
# Install the built ekmd tree as a systemd service:
#   PREFIX/lib/ekmd/        dist/src, package.json, README.md, production node_modules,
#                           systemd/*.conf.example (documented drop-ins),
#                           monitoring/ (Prometheus alert rules, Grafana dashboard) and
#                           docs/ (ALERTS.md: the runbook the rules' runbook_url link to)
#   PREFIX/bin/ekmctl       -> ../lib/ekmd/dist/src/cli/main.js
#   /etc/systemd/system/ekmd.service
#   /etc/sysusers.d/ekmd.conf  the ekmd user the unit runs as, made here when missing
#   /etc/ekmd/ekmd.json     the example config, only when absent (root:ekmd 0640 in a 0750 dir)
#   /var/lib/ekmd/          state directory (ekmd:ekmd 0700; a root-run ekmd's state is handed over)
# The code and the unit are owned by root:root. Run `npm ci` (which builds) first.
# --root DIR stages the install under DIR (an image, a test) and skips daemon-reload.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/install.sh [--root DIR] [--prefix DIR] [--node PATH] [--config FILE]
                          [--runbook-base URL]

  --root DIR     install below DIR instead of / (staged install; no daemon-reload)
  --prefix DIR   where the code goes: PREFIX/lib/ekmd, PREFIX/bin/ekmctl (default /usr)
  --node PATH    node binary the unit starts, as seen on the target (default /usr/bin/node)
  --config FILE  config installed when /etc/ekmd/ekmd.json is absent
                 (default systemd/ekmd.example.json)
  --runbook-base URL  where the alert rules' runbook_url links point: URL/ALERTS.md#alert
                 (default file:PREFIX/lib/ekmd/docs, the runbook installed here)
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

src=$(cd "$(dirname "$0")/.." && pwd)
root=/
prefix=/usr
node=/usr/bin/node
config=$src/systemd/ekmd.example.json
runbook_base=

while [ $# -gt 0 ]; do
  case "$1" in
    --root | --prefix | --node | --config | --runbook-base)
      [ $# -ge 2 ] || { echo "install.sh: $1 needs a value" >&2; usage >&2; exit 2; }
      case "$1" in
        --root) root=$2 ;;
        --prefix) prefix=$2 ;;
        --node) node=$2 ;;
        --config) config=$2 ;;
        --runbook-base) runbook_base=$2 ;;
      esac
      shift 2
      ;;
    -h | --help) usage; exit 0 ;;
    *) echo "install.sh: unknown option '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

# Paths end up in the unit's ExecStart: absolute, and nothing systemd would split or expand.
for p in "$root" "$prefix" "$node"; do
  [[ $p =~ ^/[A-Za-z0-9._/+-]*$ ]] || die "not a plain absolute path: '$p'"
done
root=${root%/}
prefix=${prefix%/}
[ -n "$prefix" ] || die "--prefix cannot be /"
# The base is written into the rules file with sed: a URL without spaces, quotes, '|', '&'
# or '\', and no trailing '/' (the rules add /ALERTS.md#…).
runbook_base=${runbook_base:-file:$prefix/lib/ekmd/docs}
url_re='^[A-Za-z][A-Za-z0-9+.-]*:[^][:space:]'\''"|&\]+$'
[[ $runbook_base =~ $url_re ]] ||
  die "--runbook-base must be a URL without spaces, quotes, '|', '&' or '\\': '$runbook_base'"
runbook_base=${runbook_base%/}

# Check everything before writing anything.
[ -f "$src/dist/src/daemon/main.js" ] || die "no build in $src/dist: run 'npm ci' (or 'npm run build') first"
[ -f "$src/package-lock.json" ] || die "missing $src/package-lock.json"
[ -f "$config" ] || die "config example not found: $config"
for f in monitoring/ekmd.rules.yml monitoring/ekmd-dashboard.json docs/ALERTS.md; do
  [ -f "$src/$f" ] || die "missing $src/$f"
done
command -v node >/dev/null || die "node is needed on PATH to read package-lock.json"
if [ -z "$root" ]; then
  [ "$(id -u)" -eq 0 ] || die "installing to / needs root (or use --root DIR)"
  [ -x "$node" ] || die "node not found at $node (pass --node PATH)"
fi

libdir=$root$prefix/lib/ekmd
unitdir=$root/etc/systemd/system
sysusersdir=$root/etc/sysusers.d
confdir=$root/etc/ekmd
statedir=$root/var/lib/ekmd
umask 022

# Stage the code beside its destination, then swap it in, so a failed copy never leaves
# a half-installed tree where the unit points.
stage=$libdir.new.$$
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/dist" "$stage/systemd"
cp -R "$src/dist/src" "$stage/dist/src"
cp "$src/package.json" "$src/README.md" "$stage/"
cp "$src/systemd/ip-allow.conf.example" "$src/systemd/seal-credential.conf.example" "$stage/systemd/"
# The alert rules link to the runbook: the installed one unless --runbook-base says where
# the site publishes it.
mkdir -p "$stage/monitoring" "$stage/docs"
sed -e "s|file:/usr/lib/ekmd/docs/|$runbook_base/|g" "$src/monitoring/ekmd.rules.yml" \
  >"$stage/monitoring/ekmd.rules.yml"
cp "$src/monitoring/ekmd-dashboard.json" "$stage/monitoring/"
cp "$src"/docs/*.md "$stage/docs/"
# Production dependencies only: the top-level packages package-lock.json does not mark dev
# (their nested node_modules come along; optional ones for other platforms are absent).
# Left out: TypeScript sources, source maps and docs, and a node-gyp addon's C sources and
# object files (at run time only its build/Release/*.node is loaded).
pkg_list=$(cd "$src" && node -e '
  const lock = require("./package-lock.json");
  for (const [path, meta] of Object.entries(lock.packages))
    if (!meta.dev && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path) && require("fs").existsSync(path))
      console.log(path);
')
mapfile -t pkgs <<<"$pkg_list"
excludes=(--exclude='*.ts' --exclude='*.map' --exclude='*.md')
addons=()
for pkg in "${pkgs[@]}"; do
  if [ -f "$src/$pkg/binding.gyp" ]; then
    addons+=("$pkg")
    excludes+=(--exclude="$pkg/build" --exclude="$pkg/deps" --exclude="$pkg/src")
  fi
done
tar -C "$src" -cf - "${excludes[@]}" "${pkgs[@]}" | tar -C "$stage" --no-same-owner -xf -
for pkg in "${addons[@]}"; do
  mkdir -p "$stage/$pkg/build/Release"
  cp "$src/$pkg"/build/Release/*.node "$stage/$pkg/build/Release/"
done
find "$stage" -type d -exec chmod 0755 {} +
find "$stage" -type f -exec chmod go-w,a+r {} +
(cd "$src" && node -e 'for (const f of Object.values(require("./package.json").bin)) console.log(f)') |
  while read -r b; do chmod 0755 "$stage/$b"; done

mkdir -p "$(dirname "$libdir")"
if [ -e "$libdir" ]; then
  mv "$libdir" "$libdir.old.$$"
  mv "$stage" "$libdir"
  rm -rf "$libdir.old.$$"
else
  mv "$stage" "$libdir"
fi

mkdir -p "$root$prefix/bin"
ln -sfn ../lib/ekmd/dist/src/cli/main.js "$root$prefix/bin/ekmctl"

# The unit names /usr/lib/ekmd and /usr/bin/node; point it at this layout.
mkdir -p "$unitdir"
sed -e "s|/usr/lib/ekmd/|$prefix/lib/ekmd/|g" \
  -e "s|^ExecStart=/usr/bin/node |ExecStart=$node |" \
  "$src/systemd/ekmd.service" >"$unitdir/.ekmd.service.$$"
chmod 0644 "$unitdir/.ekmd.service.$$"
mv "$unitdir/.ekmd.service.$$" "$unitdir/ekmd.service"

mkdir -p "$sysusersdir"
cp "$src/systemd/ekmd.sysusers.conf" "$sysusersdir/.ekmd.conf.$$"
chmod 0644 "$sysusersdir/.ekmd.conf.$$"
mv "$sysusersdir/.ekmd.conf.$$" "$sysusersdir/ekmd.conf"

# The config may carry the bootstrap admin password: never readable by others, even
# for a moment, and an operator's edited config is never overwritten. ekmd reads it
# through its group.
mkdir -p "$confdir"
chmod 0750 "$confdir"
if [ ! -e "$confdir/ekmd.json" ]; then
  (umask 077 && cp "$config" "$confdir/.ekmd.json.$$")
  chmod 0640 "$confdir/.ekmd.json.$$"
  mv "$confdir/.ekmd.json.$$" "$confdir/ekmd.json"
  echo "installed example config $confdir/ekmd.json: edit it before starting ekmd"
fi
# Files an operator put there (the config, api.tls's certificate and key) become readable
# by ekmd's group and by nobody else; nobody but root may write them.
find "$confdir" -mindepth 1 -maxdepth 1 -type f -exec chmod g+r,g-wx,o-rwx {} +

mkdir -p "$statedir"
chmod 0700 "$statedir"

# The ekmd user, from the sysusers.d file (useradd where systemd-sysusers is missing).
ekmd_id() { awk -F: -v n=ekmd '$1 == n { print $3 }' "$root/etc/$1" 2>/dev/null; }
if [ "$(id -u)" -eq 0 ]; then
  if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers ${root:+--root="$root"} "$sysusersdir/ekmd.conf" >/dev/null
  elif [ -z "$root" ] && ! getent passwd ekmd >/dev/null; then
    useradd --system --user-group --home-dir /var/lib/ekmd --no-create-home \
      --shell /usr/sbin/nologin --comment "ekmd encryption-at-rest key daemon" ekmd
  fi
  uid=$(ekmd_id passwd)
  gid=$(ekmd_id group)
  chown -R root:root "$libdir"
  chown -h root:root "$root$prefix/bin/ekmctl" "$unitdir/ekmd.service" "$sysusersdir/ekmd.conf"
  if [ -n "$uid" ] && [ -n "$gid" ]; then
    chown root:"$gid" "$confdir"
    find "$confdir" -mindepth 1 -maxdepth 1 -type f -exec chown root:"$gid" {} +
    # State a root-run ekmd left is handed over, or ekmd could not read it.
    chown -R "$uid:$gid" "$statedir"
  else
    chown -R root:root "$confdir" "$statedir"
    echo "no ekmd user in $root/etc/passwd: it is made at boot from /etc/sysusers.d/ekmd.conf;" \
      "then run: chgrp -R ekmd /etc/ekmd && chown -R ekmd:ekmd /var/lib/ekmd"
  fi
elif [ -n "$root" ]; then
  echo "not root: files are owned by $(id -un), not root:root and ekmd"
fi

if [ -z "$root" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
fi
echo "installed ekmd in ${root:-/}: enable with 'systemctl enable --now ekmd'"
