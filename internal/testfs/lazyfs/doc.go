// Package lazyfs is a FUSE file system for tests that cut the power for real.
//
// A SIGKILL is not a power cut: the killed process's writes are in the
// kernel's page cache, and the page cache survives. lazyfs keeps that cache
// itself. Mounted over a backing directory, it serves the files as they live
// (what every process sees), but writes to the backing directory only what a
// disk would hold after a power cut:
//
//   - a file's data and mode reach the backing file when the file is fsynced
//     (fsync or fdatasync);
//   - a directory entry (a created file, directory or symlink, a rename, an
//     unlink, a rmdir) reaches the backing directory when its directory is
//     fsynced. A file whose name is not yet durable keeps its fsynced data in
//     memory, as an orphan inode would, and that data lands under its name
//     when the name does.
//
// Cut is the power cut: everything not yet durable is dropped, the mount goes
// away, and the backing directory is exactly what a kiosk would boot from.
// Mounting the backing directory again is the boot. Unmount is a clean
// shutdown: everything is written.
//
// The crueler options make the cut leave more of the unsynced state behind,
// the way real disks do (after Jepsen's LazyFS and the ALICE study):
// Torn persists the unsynced writes in order up to the last one, of which only
// a part lands; Reorder persists a random subset of them; EagerNames persists
// every unsynced directory entry while the data behind it is lost (the
// zero-length file after a rename). The choice is seeded, and the seed is
// logged, so that a failure repeats.
//
// The package is for tests only: no shipped command imports it (a test in this
// package checks the commands' dependency lists).
//
// Where POSIX leaves a choice, lazyfs takes a journalling file system's: a
// directory has one name, so its rename becomes durable on both sides when
// either directory is fsynced, and a directory renamed into one that is still
// inside it on disk first has the earlier renames made durable. A file may
// keep both names of a rename across two directories until both are synced.
//
// What it does not model: mtimes and extended attributes are not kept; unix
// sockets and fifos live only in memory; file locks are left to the kernel
// (local to this machine, which is all SQLite needs).
//
// The mount is served by the test binary run again (see Mount): a process
// must not use a FUSE mount it serves itself.
package lazyfs
