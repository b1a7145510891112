package console

// DiskWarnPercent is how full the data directory's file system may get
// before the status, the heartbeat (alarm disk_nearly_full) and the metrics
// warn: early enough to plan a card swap or an archive, long before the
// ledger's writes fail and take the kiosk out of service.
const DiskWarnPercent = 80

// DiskSpace returns the bytes free to an unprivileged writer and the size of
// the file system holding path (Linux only).
func DiskSpace(path string) (free, total uint64, err error) { return diskSpace(path) }

// DiskNearlyFull reports whether a file system of total bytes with free left
// is DiskWarnPercent full or more.
func DiskNearlyFull(free, total uint64) bool {
	return total > 0 && (total-min(free, total))*100 >= DiskWarnPercent*total
}
