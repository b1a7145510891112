#!/bin/sh
# tolem postinstall (dpkg: configure). Safe to run again.
set -e

# The paths' TOLEM_* overrides exist for the script's test, which runs it
# in a scratch directory; dpkg sets none of them.
ROOT=${TOLEM_ROOT:-/opt/tolem}
STAGED=${TOLEM_STAGED:-/usr/lib/tolem/release}
ETC=${TOLEM_ETC:-/etc/tolem}
SHARE=${TOLEM_SHARE:-/usr/share/tolem}
SYSTEMD_RUN=${TOLEM_SYSTEMD_RUN:-/run/systemd/system}
# How long an upgrade waits for a customer before it gives up (kioskctl
# drain); an operator may set it: sudo TOLEM_DRAIN_TIMEOUT=30m apt install …
DRAIN_TIMEOUT=${TOLEM_DRAIN_TIMEOUT:-10m}

# The daemon's system user. It owns the ledger and the sockets, and reads
# the acceptor's serial port (dialout), the Pi's GPIO, I2C and SPI, and a USB
# receipt printer (lp).
if ! getent group tolem >/dev/null; then
	groupadd --system tolem
fi
if ! getent passwd tolem >/dev/null; then
	useradd --system --gid tolem --home-dir /var/lib/tolem --no-create-home \
		--shell /usr/sbin/nologin --comment "tolem kiosk daemon" tolem
fi
for g in dialout gpio i2c spi lp; do
	if getent group "$g" >/dev/null; then
		usermod -a -G "$g" tolem
	fi
done

# The config is readable by root and the tolem group (the technicians on
# SSH); the secrets are not in it. The bank secret and the technicians' PIN
# hashes live in files only the daemon's user reads, which kioskd demands
# (mode 0600). Existing ones are kept, their owner and mode put right.
chown root:tolem "$ETC" "$ETC/kiosk.yaml"
chmod 0750 "$ETC"
chmod 0640 "$ETC/kiosk.yaml"
if [ ! -e "$ETC/bank.secret" ]; then
	(umask 077 && echo "replace-with-the-terminal-secret-from-the-bank" >"$ETC/bank.secret")
fi
if [ ! -e "$ETC/technicians.yaml" ]; then
	(umask 077 && cat "$SHARE/technicians.example.yaml" >"$ETC/technicians.yaml")
fi
chown tolem:tolem "$ETC/bank.secret" "$ETC/technicians.yaml"
chmod 0600 "$ETC/bank.secret" "$ETC/technicians.yaml"
# A config from before bank.secret_file may still hold the secret inline,
# where the tolem group reads it.
if grep -Eq '^[[:space:]]+secret:[[:space:]]*[^[:space:]#"]|^[[:space:]]+secret:[[:space:]]*"[^"]' "$ETC/kiosk.yaml"; then
	echo "tolem: $ETC/kiosk.yaml holds the bank secret inline, readable by the tolem group: move it into $ETC/bank.secret and set bank.secret_file (docs/operator.md)" >&2
fi

if command -v systemd-tmpfiles >/dev/null; then
	systemd-tmpfiles --create /usr/lib/tmpfiles.d/tolem.conf || true
else
	install -d -o tolem -g tolem -m 0750 /var/lib/tolem /run/tolem
fi
if command -v udevadm >/dev/null; then
	udevadm control --reload-rules || true
	udevadm trigger --subsystem-match=tty --action=add || true
fi

# The packaged release goes where kioskctl keeps releases: a copy renamed
# into place once complete, so that a power cut never leaves a half release
# under a release's name (see kiosk/update).
version=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$STAGED/manifest.json")
if [ -z "$version" ]; then
	echo "tolem: no version in $STAGED/manifest.json" >&2
	exit 1
fi
mkdir -p "$ROOT/releases"
chmod 0755 "$ROOT" "$ROOT/releases"
if [ ! -e "$ROOT/releases/$version/manifest.json" ]; then
	tmp="$ROOT/releases/.$version.tmp-deb"
	rm -rf "$tmp" "$ROOT/releases/$version"
	cp -a "$STAGED" "$tmp"
	sync
	mv -T "$tmp" "$ROOT/releases/$version"
	sync
fi

# Switch current to the packaged release when there is none, or when it is
# newer than current (a kiosk updated past this package keeps its release).
current=$(readlink "$ROOT/current" 2>/dev/null | sed 's|.*/||') || true
debver() { echo "$1" | sed 's/-/~/'; }
switch=no
if [ -z "$current" ] || [ ! -e "$ROOT/releases/$current/manifest.json" ] ||
	dpkg --compare-versions "$(debver "$version")" gt "$(debver "$current")"; then
	switch=yes
fi

# An upgrade of a running kiosk never cuts a customer short: like
# `kioskctl update apply`, it first checks that the new kioskd takes the
# config, then asks the running one to drain (wait until no customer is
# mid-session and hold the kiosk in maintenance), and only then switches and
# restarts. A kiosk still busy after DRAIN_TIMEOUT keeps its release and
# this script fails, so that dpkg leaves the package to configure again.
running=no
if [ -d "$SYSTEMD_RUN" ] && [ -n "$2" ] && systemctl is-active --quiet tolem.service; then
	running=yes
fi
new="$ROOT/releases/$version/bin"
if [ "$switch" = yes ] && [ "$running" = yes ]; then
	# The keys only: an acceptor away for repair must not hold the release
	# back (kioskd starts without it and waits for it).
	if ! "$new/kioskd" --check-config "$ETC/kiosk.yaml" --keys-only; then
		echo "tolem: kioskd $version refuses $ETC/kiosk.yaml (above); the kiosk keeps running $current. Fix the config, then: dpkg --configure -a" >&2
		exit 1
	fi
	rc=0
	"$new/kioskctl" drain --timeout "$DRAIN_TIMEOUT" || rc=$?
	# Should anything below fail, the kiosk must not stay in maintenance.
	[ "$rc" -ne 0 ] || trap '"$new/kioskctl" undrain || true' EXIT
	if [ "$rc" -ne 0 ]; then
		if [ "$rc" -eq 9 ]; then
			echo "tolem: a customer was still mid-session after $DRAIN_TIMEOUT; the kiosk keeps running $current. Try again later: dpkg --configure -a" >&2
		else
			echo "tolem: kioskd did not drain (exit $rc); the kiosk keeps running $current. Stop it when no customer is there (systemctl stop tolem), then: dpkg --configure -a" >&2
		fi
		exit 1
	fi
fi

if [ "$switch" = yes ]; then
	if [ -n "$current" ] && [ "$current" != "$version" ] && [ -e "$ROOT/releases/$current/manifest.json" ]; then
		ln -sfn "releases/$current" "$ROOT/.previous.tmp-deb"
		mv -T "$ROOT/.previous.tmp-deb" "$ROOT/previous"
	fi
	ln -sfn "releases/$version" "$ROOT/.current.tmp-deb"
	mv -T "$ROOT/.current.tmp-deb" "$ROOT/current"
	sync
fi

if [ -d "$SYSTEMD_RUN" ]; then
	systemctl daemon-reload
	if [ -z "$2" ]; then
		# First install: the config still has the example's bank and key.
		systemctl enable tolem.service
		echo "tolem: put the bank's secret in $ETC/bank.secret and the technicians in $ETC/technicians.yaml, edit $ETC/kiosk.yaml (terminal_id, bank.url, acceptor, update.keys), then: systemctl start tolem"
	elif [ "$switch" = yes ] && [ "$running" = yes ]; then
		# Drained above: the new kioskd starts in service.
		trap - EXIT
		systemctl restart tolem.service
	fi
	# Otherwise the running kioskd stays as it is: either it was not
	# running, or it already runs a release as new as this package's.
fi
exit 0
