// Package update installs signed releases of the kiosk firmware and rolls
// them back when the new daemon does not come up healthy (SPEC §7).
//
// A release is a gzipped tarball with manifest.json as its first entry
// ({version, arch, files: [{path, sha256, mode}]}) and the files it lists,
// and a minisign signature beside it. On the kiosk the releases live under
// one root (default /opt/tolem):
//
//	<root>/releases/<version>/   one unpacked release: manifest.json, bin/kioskd, bin/kioskctl
//	<root>/current               symlink to releases/<version>; systemd runs current/bin/kioskd
//	<root>/previous              symlink to the release current pointed to before the last switch
//	<root>/update.json           the journal of the last update
//
// Apply verifies everything before it writes anything, so a refused update
// (bad signature or manifest, another architecture, an older version)
// leaves the disk as it was. Then it unpacks into a temporary directory
// renamed into place only once complete, asks kioskd to drain, switches
// current by renaming a new symlink over it, restarts the daemon and waits
// for it to report healthy on the new version; otherwise it switches back.
//
// Every step is ordered so that a power cut leaves current pointing at a
// complete release, old or new. The journal records an update between its
// drain and its confirmation; Recover, run at boot before kioskd starts
// (tolem-update-check.service) and by the next Apply, treats such an
// unfinished update as failed and switches back to the release it came from:
// an update is committed only by a health check that someone saw succeed.
package update
