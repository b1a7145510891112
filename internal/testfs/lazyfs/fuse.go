//go:build linux && (amd64 || arm64)

package lazyfs

import (
	"context"
	"slices"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// fnode is the kernel's handle on a model node. Every call takes the
// model's one lock: tests are small, and one lock makes each operation
// atomic against a cut.
type fnode struct {
	fs.Inode
	m *model
	n *node
}

var (
	_ fs.NodeLookuper   = (*fnode)(nil)
	_ fs.NodeGetattrer  = (*fnode)(nil)
	_ fs.NodeSetattrer  = (*fnode)(nil)
	_ fs.NodeOpener     = (*fnode)(nil)
	_ fs.NodeCreater    = (*fnode)(nil)
	_ fs.NodeReader     = (*fnode)(nil)
	_ fs.NodeWriter     = (*fnode)(nil)
	_ fs.NodeFsyncer    = (*fnode)(nil)
	_ fs.NodeFlusher    = (*fnode)(nil)
	_ fs.NodeAllocater  = (*fnode)(nil)
	_ fs.NodeMkdirer    = (*fnode)(nil)
	_ fs.NodeMknoder    = (*fnode)(nil)
	_ fs.NodeSymlinker  = (*fnode)(nil)
	_ fs.NodeReadlinker = (*fnode)(nil)
	_ fs.NodeLinker     = (*fnode)(nil)
	_ fs.NodeUnlinker   = (*fnode)(nil)
	_ fs.NodeRmdirer    = (*fnode)(nil)
	_ fs.NodeRenamer    = (*fnode)(nil)
	_ fs.NodeReaddirer  = (*fnode)(nil)
	_ fs.NodeStatfser   = (*fnode)(nil)
)

// lock takes the model's lock; false (EIO) once the power is cut.
func (f *fnode) lock() bool {
	f.m.mu.Lock()
	if f.m.cut {
		f.m.mu.Unlock()
		return false
	}
	return true
}

func (f *fnode) unlock() { f.m.mu.Unlock() }

func (f *fnode) child(ctx context.Context, c *node, out *fuse.EntryOut) *fs.Inode {
	fillAttr(c, &out.Attr)
	return f.NewInode(ctx, &fnode{m: f.m, n: c}, fs.StableAttr{Mode: c.typ(), Ino: c.ino})
}

func fillAttr(n *node, a *fuse.Attr) {
	a.Ino = n.ino
	a.Mode = n.mode
	a.Uid, a.Gid = n.uid, n.gid
	a.Nlink = uint32(max(n.nlink, 1))
	switch {
	case n.isReg():
		a.Size = uint64(len(n.data))
	case n.typ() == syscall.S_IFLNK:
		a.Size = uint64(len(n.target))
	case n.isDir():
		a.Size = 4096
	}
	a.Blocks = (a.Size + 511) / 512
	a.Blksize = 4096
	a.SetTimes(nil, &n.mtime, &n.mtime)
}

func caller(ctx context.Context) (uint32, uint32) {
	if c, ok := fuse.FromContext(ctx); ok {
		return c.Uid, c.Gid
	}
	return 0, 0
}

func (f *fnode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if !f.lock() {
		return nil, syscall.EIO
	}
	defer f.unlock()
	c := f.n.kids[name]
	if c == nil {
		return nil, syscall.ENOENT
	}
	return f.child(ctx, c, out), 0
}

func (f *fnode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if !f.lock() {
		return syscall.EIO
	}
	defer f.unlock()
	fillAttr(f.n, &out.Attr)
	return 0
}

func (f *fnode) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if !f.lock() {
		return syscall.EIO
	}
	defer f.unlock()
	n := f.n
	if mode, ok := in.GetMode(); ok {
		n.mode = n.typ() | mode&0o7777
	}
	if uid, ok := in.GetUID(); ok {
		n.uid = uid
	}
	if gid, ok := in.GetGID(); ok {
		n.gid = gid
	}
	if size, ok := in.GetSize(); ok {
		if !n.isReg() {
			return syscall.EINVAL
		}
		f.m.truncate(n, int64(size))
	}
	if mt, ok := in.GetMTime(); ok {
		n.mtime = mt
	}
	fillAttr(n, &out.Attr)
	return 0
}

func (f *fnode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if !f.lock() {
		return nil, 0, syscall.EIO
	}
	defer f.unlock()
	if flags&syscall.O_TRUNC != 0 && f.n.isReg() && flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		f.m.truncate(f.n, 0)
	}
	return nil, 0, 0
}

func (f *fnode) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	if !f.lock() {
		return nil, nil, 0, syscall.EIO
	}
	defer f.unlock()
	if c := f.n.kids[name]; c != nil {
		if flags&syscall.O_EXCL != 0 {
			return nil, nil, 0, syscall.EEXIST
		}
		if flags&syscall.O_TRUNC != 0 && c.isReg() {
			f.m.truncate(c, 0)
		}
		return f.child(ctx, c, out), nil, 0, 0
	}
	uid, gid := caller(ctx)
	c := f.m.newNode(syscall.S_IFREG|mode&0o7777, uid, gid)
	f.m.link(f.n, name, c)
	return f.child(ctx, c, out), nil, 0, 0
}

func (f *fnode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if !f.lock() {
		return nil, syscall.EIO
	}
	defer f.unlock()
	d := f.n.data
	if off >= int64(len(d)) {
		return fuse.ReadResultData(nil), 0
	}
	end := min(off+int64(len(dest)), int64(len(d)))
	// The data may change once unlocked: hand back a copy.
	return fuse.ReadResultData(slices.Clone(d[off:end])), 0
}

func (f *fnode) Write(ctx context.Context, fh fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	if !f.lock() {
		return 0, syscall.EIO
	}
	defer f.unlock()
	f.m.write(f.n, data, off)
	return uint32(len(data)), 0
}

func (f *fnode) Allocate(ctx context.Context, fh fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	if !f.lock() {
		return syscall.EIO
	}
	defer f.unlock()
	const keepSize = 1 // FALLOC_FL_KEEP_SIZE
	if mode&^keepSize != 0 {
		return syscall.EOPNOTSUPP
	}
	if end := int64(off + size); mode&keepSize == 0 && end > int64(len(f.n.data)) {
		f.m.truncate(f.n, end)
	}
	return 0
}

func (f *fnode) Fsync(ctx context.Context, fh fs.FileHandle, flags uint32) syscall.Errno {
	if !f.lock() {
		return syscall.EIO
	}
	defer f.unlock()
	if f.n.isDir() {
		f.m.commitDir(f.n)
		if f.m.failed != nil {
			return syscall.EIO
		}
		return 0
	}
	if err := f.m.fsyncFile(f.n); err != nil {
		return syscall.EIO
	}
	return 0
}

func (f *fnode) Flush(ctx context.Context, fh fs.FileHandle) syscall.Errno { return 0 }

func (f *fnode) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return f.newEntry(ctx, name, syscall.S_IFDIR|mode&0o7777, "", out)
}

func (f *fnode) Mknod(ctx context.Context, name string, mode, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return f.newEntry(ctx, name, mode, "", out)
}

func (f *fnode) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return f.newEntry(ctx, name, syscall.S_IFLNK|0o777, target, out)
}

func (f *fnode) newEntry(ctx context.Context, name string, mode uint32, target string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if !f.lock() {
		return nil, syscall.EIO
	}
	defer f.unlock()
	if f.n.kids[name] != nil {
		return nil, syscall.EEXIST
	}
	uid, gid := caller(ctx)
	c := f.m.newNode(mode, uid, gid)
	c.target = target
	if c.isDir() {
		c.nlink = 0 // link adds the one name a directory has
	}
	f.m.link(f.n, name, c)
	return f.child(ctx, c, out), 0
}

func (f *fnode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	if !f.lock() {
		return nil, syscall.EIO
	}
	defer f.unlock()
	return []byte(f.n.target), 0
}

func (f *fnode) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	t, ok := target.(*fnode)
	if !ok {
		return nil, syscall.EXDEV
	}
	if !f.lock() {
		return nil, syscall.EIO
	}
	defer f.unlock()
	if f.n.kids[name] != nil {
		return nil, syscall.EEXIST
	}
	if t.n.isDir() {
		return nil, syscall.EPERM
	}
	f.m.link(f.n, name, t.n)
	return f.child(ctx, t.n, out), 0
}

func (f *fnode) Unlink(ctx context.Context, name string) syscall.Errno {
	if !f.lock() {
		return syscall.EIO
	}
	defer f.unlock()
	c := f.n.kids[name]
	switch {
	case c == nil:
		return syscall.ENOENT
	case c.isDir():
		return syscall.EISDIR
	}
	f.m.unlinkName(f.n, name)
	return 0
}

func (f *fnode) Rmdir(ctx context.Context, name string) syscall.Errno {
	if !f.lock() {
		return syscall.EIO
	}
	defer f.unlock()
	c := f.n.kids[name]
	switch {
	case c == nil:
		return syscall.ENOENT
	case !c.isDir():
		return syscall.ENOTDIR
	case len(c.kids) > 0:
		return syscall.ENOTEMPTY
	}
	f.m.unlinkName(f.n, name)
	return 0
}

func (f *fnode) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	np, ok := newParent.(*fnode)
	if !ok {
		return syscall.EXDEV
	}
	if !f.lock() {
		return syscall.EIO
	}
	defer f.unlock()
	return f.m.rename(f.n, name, np.n, newName, flags)
}

func (f *fnode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	if !f.lock() {
		return nil, syscall.EIO
	}
	defer f.unlock()
	var out []fuse.DirEntry
	for _, name := range slices.Sorted(mapKeys(f.n.kids)) {
		c := f.n.kids[name]
		out = append(out, fuse.DirEntry{Name: name, Mode: c.typ(), Ino: c.ino})
	}
	return fs.NewListDirStream(out), 0
}

func (f *fnode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	var st syscall.Statfs_t
	if err := syscall.Statfs(f.m.backing, &st); err != nil {
		return fs.ToErrno(err)
	}
	out.FromStatfsT(&st)
	return 0
}
