#!/bin/sh
# tolem postinstall (dpkg: configure). Safe to run again.
set -e

ROOT=/opt/tolem
STAGED=/usr/lib/tolem/release

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

# The config holds the bank secret: readable by root and the tolem group.
chown root:tolem /etc/tolem /etc/tolem/kiosk.yaml
chmod 0750 /etc/tolem
chmod 0640 /etc/tolem/kiosk.yaml

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
if [ -z "$current" ] || [ ! -e "$ROOT/releases/$current/manifest.json" ] ||
	dpkg --compare-versions "$(debver "$version")" gt "$(debver "$current")"; then
	if [ -n "$current" ] && [ "$current" != "$version" ] && [ -e "$ROOT/releases/$current/manifest.json" ]; then
		ln -sfn "releases/$current" "$ROOT/.previous.tmp-deb"
		mv -T "$ROOT/.previous.tmp-deb" "$ROOT/previous"
	fi
	ln -sfn "releases/$version" "$ROOT/.current.tmp-deb"
	mv -T "$ROOT/.current.tmp-deb" "$ROOT/current"
	sync
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	if [ -z "$2" ]; then
		# First install: the config still has the example's bank and key.
		systemctl enable tolem.service
		echo "tolem: edit /etc/tolem/kiosk.yaml (terminal_id, bank, acceptor, update.keys), then: systemctl start tolem"
	else
		systemctl try-restart tolem.service
	fi
fi
exit 0
