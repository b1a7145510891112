#!/bin/sh
# tolem postremove. The ledger in /var/lib/tolem is never deleted here: it
# is the record of customers' money. A purge removes the releases only.
set -e
if [ "$1" = purge ]; then
	rm -rf /opt/tolem
	# The secrets postinstall created (dpkg does not know them).
	rm -f /etc/tolem/bank.secret /etc/tolem/technicians.yaml
	echo "tolem: the ledger in /var/lib/tolem and the user tolem are kept; remove them by hand once the ledger is archived"
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
if command -v udevadm >/dev/null; then
	udevadm control --reload-rules || true
fi
exit 0
