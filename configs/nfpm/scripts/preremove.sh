#!/bin/sh
# tolem preremove. On an upgrade the daemon keeps running until postinstall
# restarts it. On a removal it first waits, as an upgrade does, for the
# customer at the kiosk (kioskctl drain), then stops (and flushes unsent
# top-ups). A customer still there after TOLEM_DRAIN_TIMEOUT (default 10m)
# fails the script, so that dpkg keeps the package and the kiosk running.
set -e

# The TOLEM_* overrides exist for the script's test; dpkg sets none of them.
ROOT=${TOLEM_ROOT:-/opt/tolem}
SYSTEMD_RUN=${TOLEM_SYSTEMD_RUN:-/run/systemd/system}
DRAIN_TIMEOUT=${TOLEM_DRAIN_TIMEOUT:-10m}

if [ "$1" = remove ] && [ -d "$SYSTEMD_RUN" ]; then
	if systemctl is-active --quiet tolem.service && [ -x "$ROOT/current/bin/kioskctl" ]; then
		rc=0
		"$ROOT/current/bin/kioskctl" drain --timeout "$DRAIN_TIMEOUT" || rc=$?
		if [ "$rc" -eq 9 ]; then
			"$ROOT/current/bin/kioskctl" undrain || true
			echo "tolem: a customer was still mid-session after $DRAIN_TIMEOUT; nothing was removed. Try again later" >&2
			exit 1
		fi
		# Any other failure (kioskd not answering) still lets it stop:
		# on SIGTERM kioskd finishes the bill in flight and saves the
		# session's money as a top-up.
	fi
	systemctl disable --now tolem.service || true
fi
exit 0
