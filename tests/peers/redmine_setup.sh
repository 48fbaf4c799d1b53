#!/usr/bin/env bash
# redmine_setup.sh — install (on request) and set up a throw-away Redmine 5.0 test peer.
#
#   bash tests/peers/redmine_setup.sh --install-only        # apt packages + bundler workaround, no instance
#   bash tests/peers/redmine_setup.sh [--install] [--fresh] DIR PORT
#
# The second form creates (or, idempotently, re-applies) a Redmine instance whose data lives in DIR:
# sqlite db, REST API on, admin + "zabbix-bot" users with fixed API keys, project "monitoring",
# tracker "Incident", status "Acknowledged", issue custom field "External ID" (filterable dedup key).
# It writes DIR/ids.json (one JSON object: ids by name) and DIR/redmine.env; it does not start the server
# (tests/peers/redmine.py runs `rails server -u thin -b 127.0.0.1 -p PORT`, see start_cmd below).
# Without --install it never touches apt: if the packages are missing it exits 3.
# --fresh wipes DIR first; otherwise an existing DIR is kept and migrate + configure are re-run (no-ops).
#
# Environment (defaults): REDMINE_INSTANCE=pd<md5(DIR)[:10]>
#   REDMINE_API_KEY=a0a0...(40 hex, admin)  REDMINE_BOT_API_KEY=b0b0...(40 hex, zabbix-bot)
#
# Debian 12 packaging workaround (from /work/shared/peers/redmine): ruby3.1 3.1.7-1~deb12u2 ships
# bundler 2.3.27, which treats Debian-packaged gems without a gem dir (racc, rotp, ...) as missing, so
# redmine's postinst (`bundle install --local`) fails with Bundler::GemNotFound. We create the empty
# gem dirs and re-run apt. Any later ruby-* install re-triggers the postinst, which deletes
# /var/lib/redmine/Gemfile.lock: every run re-checks and regenerates it (`bundle install --local`, offline).
# WEBrick is unusable under bundler (ruby-webrick is not in the Gemfile), hence thin.
# Run as root (writes the /var/lib/redmine/<instance> symlink used by Debian's multi-instance support).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PKGS=(redmine redmine-sqlite thin)
APT=(apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends)
export DEBIAN_FRONTEND=noninteractive

usage() { echo "usage: $0 --install-only | [--install] [--fresh] DIR PORT" >&2; exit 2; }
INSTALL=0 INSTALL_ONLY=0 FRESH=0 ARGS=()
while [ $# -gt 0 ]; do
  case $1 in
    --install) INSTALL=1 ;;
    --install-only) INSTALL=1 INSTALL_ONLY=1 ;;
    --fresh) FRESH=1 ;;
    -h|--help) usage ;;
    -*) usage ;;
    *) ARGS+=("$1") ;;
  esac
  shift
done
if [ "$INSTALL_ONLY" = 1 ]; then [ ${#ARGS[@]} -eq 0 ] || usage; else [ ${#ARGS[@]} -eq 2 ] || usage; fi

now() { echo "$EPOCHREALTIME"; }
dt() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
t0=$(now)

# --- 1. packages ---------------------------------------------------------------------------------
installed() {
  [ "$(dpkg-query -W -f='${Status}\n' "${PKGS[@]}" 2>/dev/null | grep -c '^install ok installed$')" = "${#PKGS[@]}" ]
}
fix_gem_dirs() {
  # give every Debian gemspec a gem dir (empty is fine: the code is in /usr/lib/ruby/vendor_ruby)
  local spec d
  for spec in /usr/share/rubygems-integration/*/specifications/*.gemspec \
              /usr/lib/*/rubygems-integration/*/specifications/*.gemspec; do
    [ -f "$spec" ] || continue
    d="$(dirname "$(dirname "$spec")")/gems/$(basename "$spec" .gemspec)"
    [ -d "$d" ] || mkdir -p "$d"
  done
}
if ! installed; then
  if [ "$INSTALL" != 1 ]; then
    echo "redmine not installed: run bash $0 --install-only" >&2
    exit 3
  fi
  debconf-set-selections <<'DEB'
redmine redmine/instances/default/dbconfig-install boolean true
redmine redmine/instances/default/database-type select sqlite3
redmine redmine/instances/default/db/basepath string /var/lib/dbconfig-common/sqlite3/redmine/instances/default
redmine redmine/instances/default/db/dbname string redmine_default
redmine redmine/instances/default/default-language select en
redmine redmine/current-instances string default
DEB
  # the first pass unpacks everything; redmine's postinst may fail on the bundler bug above
  "${APT[@]}" "${PKGS[@]}" || true
  fix_gem_dirs
  "${APT[@]}" "${PKGS[@]}"   # second pass configures redmine
  installed || { echo "redmine packages still not installed" >&2; exit 1; }
fi
fix_gem_dirs
if ! (cd /usr/share/redmine && bundle check >/dev/null 2>&1); then
  (cd /usr/share/redmine && bundle install --local --quiet >/dev/null 2>&1) \
    || { echo "bundle install --local failed in /usr/share/redmine" >&2; exit 1; }
fi
# (`bundle check` itself may have rewritten it as root) keep the package's ownership
if [ -f /var/lib/redmine/Gemfile.lock ]; then chown www-data:www-data /var/lib/redmine/Gemfile.lock; fi
t1=$(now)
if [ "$INSTALL_ONLY" = 1 ]; then
  echo "redmine packages ready ($(dt "$t0" "$t1")s)"
  exit 0
fi

# --- 2. instance directory -----------------------------------------------------------------------
DIR=${ARGS[0]} PORT=${ARGS[1]}
case $PORT in ''|*[!0-9]*) echo "PORT must be a number: $PORT" >&2; exit 2 ;; esac
API_KEY=${REDMINE_API_KEY:-a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0}
BOT_KEY=${REDMINE_BOT_API_KEY:-b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0}
if [ "$FRESH" = 1 ]; then rm -rf "$DIR"; fi
mkdir -p "$DIR"/{config,log,files,db,public/plugin_assets,tmp/cache,tmp/pids,tmp/sockets,tmp/sessions}
DIR=$(cd "$DIR" && pwd)
INSTANCE=${REDMINE_INSTANCE:-pd$(printf %s "$DIR" | md5sum | cut -c1-10)}
cat > "$DIR/config/database.yml" <<YML
production:
  adapter: sqlite3
  database: $DIR/db/redmine.sqlite3
  pool: 10
  timeout: 10000
YML
[ -s "$DIR/config/secret_key.txt" ] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$DIR/config/secret_key.txt"
# Debian: Redmine.root for REDMINE_INSTANCE=X is /usr/share/redmine/instances/X (= /var/lib/redmine/X)
ln -sfn "$DIR" "/var/lib/redmine/$INSTANCE"

# --- 3. schema, default data (trackers/statuses/roles/workflows), configuration --------------------
cd /usr/share/redmine
export REDMINE_INSTANCE=$INSTANCE RAILS_ENV=production REDMINE_LANG=en
SCHEMA=/dev/null bundle exec rake db:migrate >"$DIR/log/setup-rake.log" 2>&1 \
  || { tail -20 "$DIR/log/setup-rake.log" >&2; exit 1; }
t2=$(now)
ids=$(REDMINE_API_KEY=$API_KEY REDMINE_BOT_API_KEY=$BOT_KEY REDMINE_HOST=127.0.0.1:$PORT \
      bundle exec rails runner "$HERE/redmine_configure.rb" 2>"$DIR/log/setup-runner.err" | tail -1) \
  || { cat "$DIR/log/setup-runner.err" >&2; exit 1; }
case $ids in '{'*'}') ;; *) echo "configure printed no JSON: $ids" >&2; cat "$DIR/log/setup-runner.err" >&2; exit 1 ;; esac
t3=$(now)
printf '%s\n' "$ids" > "$DIR/ids.json"
CF=$(ruby -rjson -e 'puts JSON.parse(STDIN.read).fetch("external_id_cf")' <<<"$ids")
cat > "$DIR/redmine.env" <<ENV
REDMINE_URL=http://127.0.0.1:$PORT
REDMINE_INSTANCE=$INSTANCE
REDMINE_API_KEY=$API_KEY
REDMINE_BOT_API_KEY=$BOT_KEY
REDMINE_PROJECT=monitoring
REDMINE_EXTERNAL_ID_CF=$CF
ENV
echo "setup: package check $(dt "$t0" "$t1")s, db:migrate $(dt "$t1" "$t2")s, default data + configure $(dt "$t2" "$t3")s"
echo "ids: $ids"
echo "env: $DIR/redmine.env"
echo "start: cd /usr/share/redmine && REDMINE_INSTANCE=$INSTANCE RAILS_ENV=production ruby bin/rails server -u thin -b 127.0.0.1 -p $PORT -e production -P $DIR/tmp/pids/server.pid"
