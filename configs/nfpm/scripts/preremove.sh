#!/bin/sh
# tolem preremove. On an upgrade the daemon keeps running until postinstall
# restarts it; on a removal it stops (and flushes unsent top-ups) now.
set -e
if [ "$1" = remove ] && [ -d /run/systemd/system ]; then
	systemctl disable --now tolem.service || true
fi
exit 0
