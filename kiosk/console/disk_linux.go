package console

import "syscall"

// diskSpace returns the bytes free to an unprivileged writer and the size
// of the file system holding path.
func diskSpace(path string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(path, &st); err != nil {
		return 0, 0, err
	}
	bs := uint64(st.Bsize) // Bsize is int32 on 32-bit ARM
	return st.Bavail * bs, st.Blocks * bs, nil
}
