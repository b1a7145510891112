//go:build linux && (amd64 || arm64)

package lazyfs

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// The model holds two views of every inode: the live one, which the mount
// serves, and the durable one, which the backing directory holds. The
// backing directory is kept equal to the durable view at every instant, so a
// cut has nothing to write: it only stops serving the live view.

type opKind uint8

const (
	opWrite opKind = iota
	opTruncate
)

// op is one change to a file's data not yet fsynced.
type op struct {
	kind opKind
	off  int64 // opWrite: where; opTruncate: the new size
	data []byte
}

// dname is one durable directory entry naming a node.
type dname struct {
	parent *node
	name   string
}

type node struct {
	ino   uint64
	mode  uint32 // type and permission bits, as in stat
	uid   uint32
	gid   uint32
	mtime time.Time

	// Live view.
	data   []byte           // regular file
	target string           // symlink
	kids   map[string]*node // directory
	nlink  int              // live names

	// Durable view.
	dkids  map[string]*node // directory: the entries its last fsync saw
	dnames []dname          // the durable entries naming this node
	// snap is a regular file's durable data while none of its durable names
	// reaches the root, so that no backing file holds it (a new file fsynced
	// before its directory, a file whose name was renamed away and synced).
	snap []byte
	// pending is what changed the data since the last fsync, in order.
	pending      []op
	pendingBytes int
}

func (n *node) typ() uint32 { return n.mode & syscall.S_IFMT }
func (n *node) isDir() bool { return n.typ() == syscall.S_IFDIR }
func (n *node) isReg() bool { return n.typ() == syscall.S_IFREG }
func (n *node) perm() fs.FileMode {
	return fs.FileMode(n.mode & 0o7777 & uint32(fs.ModePerm))
}

// maxPending bounds the memory a never-synced file's change list takes (a
// SQLite -shm file is written for ever and never fsynced): past it, the list
// becomes one rewrite of the whole live content.
const maxPending = 16 << 20

type model struct {
	mu      sync.Mutex
	backing string
	root    *node
	nodes   map[uint64]*node
	nextIno uint64
	cut     bool
	depth   int
	// failed records the first error writing the backing directory: the
	// durable view is then wrong, and the test must hear of it.
	failed error
}

func newModel(backing string) (*model, error) {
	abs, err := filepath.Abs(backing)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("lazyfs: backing directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("lazyfs: backing %s is not a directory", abs)
	}
	m := &model{backing: abs, nodes: map[uint64]*node{}, nextIno: 1}
	m.root = m.newNode(syscall.S_IFDIR|uint32(st.Mode().Perm()), 0, 0)
	m.root.nlink = 1
	if err := m.load(abs, m.root, map[[2]uint64]*node{}); err != nil {
		return nil, fmt.Errorf("lazyfs: read backing directory: %w", err)
	}
	return m, nil
}

func (m *model) newNode(mode, uid, gid uint32) *node {
	n := &node{ino: m.nextIno, mode: mode, uid: uid, gid: gid, mtime: time.Now()}
	m.nextIno++
	if n.isDir() {
		n.kids = map[string]*node{}
		n.dkids = map[string]*node{}
	}
	m.nodes[n.ino] = n
	return n
}

// load reads the backing tree: at mount, the live view is the durable one.
func (m *model) load(dir string, d *node, links map[[2]uint64]*node) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		key := [2]uint64{uint64(st.Dev), st.Ino}
		n := links[key]
		if n == nil {
			n = m.newNode(st.Mode, st.Uid, st.Gid)
			n.mtime = fi.ModTime()
			switch {
			case n.isReg():
				if n.data, err = os.ReadFile(p); err != nil {
					return err
				}
				if st.Nlink > 1 {
					links[key] = n
				}
			case n.isDir():
				if err := m.load(p, n, links); err != nil {
					return err
				}
			case n.typ() == syscall.S_IFLNK:
				if n.target, err = os.Readlink(p); err != nil {
					return err
				}
			}
		}
		d.kids[e.Name()] = n
		d.dkids[e.Name()] = n
		n.dnames = append(n.dnames, dname{d, e.Name()})
		n.nlink++
	}
	return nil
}

// ---- paths in the backing directory ----

// bpath is a backing path of n: one of its durable names whose parents'
// durable names reach the root, and which the backing directory already has
// (a directory being written out has names in the model before it has them
// on disk); "" when there is none.
func (m *model) bpath(n *node) string { return m.bpathExcept(n, nil, "") }

// bpathExcept is bpath ignoring the durable name (parent, name).
func (m *model) bpathExcept(n *node, parent *node, name string) string {
	for _, p := range m.bpaths(n, parent, name, 0) {
		if _, err := os.Lstat(p); err == nil {
			return p
		}
	}
	return ""
}

func (m *model) bpaths(n, exParent *node, exName string, depth int) []string {
	if n == m.root {
		return []string{m.backing}
	}
	if depth > 1024 { // a cycle of durable directory names
		return nil
	}
	var out []string
	for _, dn := range n.dnames {
		if dn.parent == exParent && dn.name == exName {
			continue
		}
		for _, p := range m.bpaths(dn.parent, nil, "", depth+1) {
			out = append(out, filepath.Join(p, dn.name))
		}
	}
	return out
}

// enter and leave bound the recursion through the durable tree, which a
// bug could turn into a cycle: better a failed test than a hung one.
func (m *model) enter() bool {
	m.depth++
	if m.depth > 1024 {
		m.fail(errors.New("lazyfs: a cycle in the durable directory tree"))
		m.depth--
		return false
	}
	return true
}

func (m *model) leave() { m.depth-- }

func (m *model) fail(err error) {
	if err != nil && m.failed == nil {
		m.failed = err
	}
}

// ---- the durable view ----

// fsyncFile makes n's data and mode durable.
func (m *model) fsyncFile(n *node) error {
	if !n.isReg() {
		return nil
	}
	if p := m.bpath(n); p != "" {
		if err := applyOps(p, n.pending); err != nil {
			m.fail(err)
			return err
		}
		if err := os.Chmod(p, n.perm()); err != nil {
			m.fail(err)
			return err
		}
	} else {
		n.snap = slices.Clone(n.data)
		if n.snap == nil {
			n.snap = []byte{}
		}
	}
	n.pending, n.pendingBytes = nil, 0
	return nil
}

func applyOps(path string, ops []op) error {
	if len(ops) == 0 {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	for _, o := range ops {
		switch o.kind {
		case opWrite:
			_, err = f.WriteAt(o.data, o.off)
		case opTruncate:
			err = f.Truncate(o.off)
		}
		if err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// commitDir makes d's live entries its durable ones, as fsync of a
// directory does.
func (m *model) commitDir(d *node) {
	for _, name := range slices.Sorted(mapKeys(d.kids)) {
		m.commitEntry(d, name)
	}
	for name, old := range d.dkids {
		if _, live := d.kids[name]; !live {
			m.dropName(d, name, old)
		}
	}
}

// commitEntry makes the live entry d/name durable.
func (m *model) commitEntry(d *node, name string) {
	c, old := d.kids[name], d.dkids[name]
	if old == c {
		return
	}
	if old != nil {
		m.dropName(d, name, old)
	}
	if c != nil {
		m.addName(d, name, c)
	}
}

func (m *model) addName(d *node, name string, c *node) {
	if c.isDir() && m.durablyUnder(d, c) {
		// c was moved into a directory that is, on disk, still inside c: a
		// journal commits the earlier renames that took d out of c first.
		m.commitLivePath(d)
	}
	if c.isDir() && len(c.dnames) > 0 {
		m.moveDir(d, name, c)
		return
	}
	d.dkids[name] = c
	c.dnames = append(c.dnames, dname{d, name})
	dp := m.bpath(d)
	if dp == "" {
		return
	}
	m.attach(c, d, name, filepath.Join(dp, name))
}

// moveDir gives the directory c, durable under another name, the durable
// name d/name. A directory has one name, so its rename becomes durable on
// both sides at once, as a journalling file system makes it.
func (m *model) moveDir(d *node, name string, c *node) {
	oldPath := m.bpath(c)
	for _, dn := range c.dnames {
		delete(dn.parent.dkids, dn.name)
	}
	c.dnames = []dname{{d, name}}
	d.dkids[name] = c
	dp := m.bpath(d)
	switch {
	case oldPath != "" && dp != "":
		target := filepath.Join(dp, name)
		if rel, err := filepath.Rel(oldPath, target); err == nil && rel != ".." && !startsDotDot(rel) {
			m.fail(fmt.Errorf("lazyfs: durable rename of %s into itself (%s) is not modelled", oldPath, target))
			return
		}
		m.fail(os.Rename(oldPath, target))
	case oldPath != "":
		m.unmaterialize(c, oldPath)
		m.fail(os.RemoveAll(oldPath))
	case dp != "":
		m.materialize(c, filepath.Join(dp, name))
	}
}

// durablyUnder reports whether the directory d lies under c in the durable
// view.
func (m *model) durablyUnder(d, c *node) bool {
	for n, depth := d, 0; depth < 1024; depth++ {
		if n == c {
			return true
		}
		if n == m.root || len(n.dnames) == 0 {
			return false
		}
		n = n.dnames[0].parent
	}
	return false
}

// commitLivePath makes the live names on the way from the root to the
// directory d durable, top down.
func (m *model) commitLivePath(d *node) {
	type step struct {
		parent *node
		name   string
	}
	var path []step
	for n := d; n != m.root; {
		p, name := m.liveParent(n)
		if p == nil {
			return // not in the live tree
		}
		path = append(path, step{p, name})
		n = p
	}
	for i := len(path) - 1; i >= 0; i-- {
		m.commitEntry(path[i].parent, path[i].name)
	}
}

// liveParent finds the directory whose live entry names the directory n.
func (m *model) liveParent(n *node) (*node, string) {
	for _, d := range m.liveDirs() {
		for name, c := range d.kids {
			if c == n {
				return d, name
			}
		}
	}
	return nil, ""
}

// attach gives c the backing path target, reached through (parent, name):
// a hard link to the file when it has a path already, else its durable
// state written out.
func (m *model) attach(c, parent *node, name, target string) {
	if existing := m.bpathExcept(c, parent, name); existing != "" && !c.isDir() {
		m.fail(os.Link(existing, target))
		return
	}
	m.materialize(c, target)
}

func startsDotDot(rel string) bool {
	return len(rel) >= 3 && rel[:3] == ".."+string(filepath.Separator)
}

// materialize writes c's durable state at target, which it did not have.
func (m *model) materialize(c *node, target string) {
	if !m.enter() {
		return
	}
	defer m.leave()
	switch {
	case c.isReg():
		m.fail(os.WriteFile(target, c.snap, c.perm()))
		m.fail(os.Chmod(target, c.perm()))
		c.snap = nil
	case c.isDir():
		m.fail(os.Mkdir(target, c.perm()))
		m.fail(os.Chmod(target, c.perm()))
		for _, name := range slices.Sorted(mapKeys(c.dkids)) {
			m.attach(c.dkids[name], c, name, filepath.Join(target, name))
		}
	case c.typ() == syscall.S_IFLNK:
		m.fail(os.Symlink(c.target, target))
	}
	// Sockets and fifos stay in memory: nothing reads them after a boot.
}

func (m *model) dropName(d *node, name string, c *node) {
	delete(d.dkids, name)
	c.dnames = slices.DeleteFunc(c.dnames, func(dn dname) bool { return dn.parent == d && dn.name == name })
	dp := m.bpath(d)
	if dp == "" {
		return
	}
	m.detach(c, filepath.Join(dp, name))
}

// detach removes the backing path path of c, keeping in memory what only it
// held.
func (m *model) detach(c *node, path string) {
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return // a socket or fifo never written
	}
	if m.bpath(c) == "" {
		m.unmaterialize(c, path)
	}
	m.fail(os.RemoveAll(path))
}

func (m *model) unmaterialize(c *node, path string) {
	if !m.enter() {
		return
	}
	defer m.leave()
	switch {
	case c.isReg():
		if c.nlink > 0 || len(c.dnames) > 0 {
			b, err := os.ReadFile(path)
			m.fail(err)
			c.snap = b
		}
	case c.isDir():
		for name, ch := range c.dkids {
			if m.bpath(ch) == "" {
				m.unmaterialize(ch, filepath.Join(path, name))
			}
		}
	}
}

func mapKeys[V any](mp map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range mp {
			if !yield(k) {
				return
			}
		}
	}
}

// liveDirs lists the directories reachable from the root, parents first.
func (m *model) liveDirs() []*node {
	dirs := []*node{m.root}
	seen := map[*node]bool{m.root: true}
	for i := 0; i < len(dirs); i++ {
		for _, name := range slices.Sorted(mapKeys(dirs[i].kids)) {
			if c := dirs[i].kids[name]; c.isDir() && !seen[c] {
				seen[c] = true
				dirs = append(dirs, c)
			}
		}
	}
	return dirs
}

// syncAll is a clean shutdown: every file's data, then every directory.
func (m *model) syncAll() error {
	ids := slices.Sorted(func(yield func(uint64) bool) {
		for k := range m.nodes {
			if !yield(k) {
				return
			}
		}
	})
	for _, id := range ids {
		if n := m.nodes[id]; n.isReg() && len(n.pending) > 0 {
			_ = m.fsyncFile(n)
		}
	}
	for _, d := range m.liveDirs() {
		m.commitDir(d)
	}
	return m.failed
}

// cutPower stops the live view. With the crueler options it first lets part
// of the unsynced state reach the backing directory, as a disk might.
func (m *model) cutPower(o Options, rng *rand.Rand) error {
	m.cut = true
	if o.EagerNames {
		for _, d := range m.liveDirs() {
			m.commitDir(d)
		}
	}
	if !o.Torn && !o.Reorder {
		return m.failed
	}
	ids := slices.Sorted(func(yield func(uint64) bool) {
		for k := range m.nodes {
			if !yield(k) {
				return
			}
		}
	})
	for _, id := range ids {
		n := m.nodes[id]
		if !n.isReg() || len(n.pending) == 0 {
			continue
		}
		p := m.bpath(n)
		if p == "" {
			continue
		}
		ops := n.pending
		if o.Reorder {
			var kept []op
			for _, x := range ops {
				if rng.IntN(2) == 0 {
					kept = append(kept, x)
				}
			}
			ops = kept
		}
		if o.Torn {
			ops = tearLast(ops, rng)
		}
		m.fail(applyOps(p, ops))
	}
	return m.failed
}

// tearLast keeps a part of the last write of ops: whole 512-byte sectors
// when it spans more than one, else some of its bytes.
func tearLast(ops []op, rng *rand.Rand) []op {
	last := -1
	for i, x := range ops {
		if x.kind == opWrite && len(x.data) > 1 {
			last = i
		}
	}
	if last < 0 {
		return ops
	}
	out := slices.Clone(ops[:last+1])
	w := out[last]
	var keep int
	if sectors := len(w.data) / 512; sectors > 1 {
		keep = 512 * (1 + rng.IntN(sectors-1))
	} else {
		keep = 1 + rng.IntN(len(w.data)-1)
	}
	out[last] = op{kind: opWrite, off: w.off, data: w.data[:keep]}
	return out
}

// ---- the live view ----

func (m *model) write(n *node, data []byte, off int64) {
	end := off + int64(len(data))
	if end > int64(len(n.data)) {
		n.data = grow(n.data, end)
	}
	copy(n.data[off:end], data)
	n.mtime = time.Now()
	m.addOp(n, op{kind: opWrite, off: off, data: slices.Clone(data)})
}

func (m *model) truncate(n *node, size int64) {
	if size <= int64(len(n.data)) {
		clear(n.data[size:])
		n.data = n.data[:size]
	} else {
		n.data = grow(n.data, size)
	}
	n.mtime = time.Now()
	m.addOp(n, op{kind: opTruncate, off: size})
}

func (m *model) addOp(n *node, o op) {
	n.pending = append(n.pending, o)
	n.pendingBytes += len(o.data) + 32
	if n.pendingBytes > maxPending {
		n.pending = []op{
			{kind: opTruncate, off: int64(len(n.data))},
			{kind: opWrite, off: 0, data: slices.Clone(n.data)},
		}
		n.pendingBytes = len(n.data)
	}
}

func grow(b []byte, size int64) []byte {
	if int64(cap(b)) >= size {
		return b[:size]
	}
	nb := make([]byte, size, max(size, int64(cap(b))*2))
	copy(nb, b)
	return nb
}

// link adds the live name d/name for c.
func (m *model) link(d *node, name string, c *node) {
	d.kids[name] = c
	c.nlink++
	d.mtime = time.Now()
}

func (m *model) unlinkName(d *node, name string) {
	if c := d.kids[name]; c != nil {
		c.nlink--
		delete(d.kids, name)
		d.mtime = time.Now()
	}
}

// rename moves d1/n1 to d2/n2 in the live view, with rename(2)'s checks.
func (m *model) rename(d1 *node, n1 string, d2 *node, n2 string, flags uint32) syscall.Errno {
	c := d1.kids[n1]
	if c == nil {
		return syscall.ENOENT
	}
	const noReplace, exchange = 1, 2
	old := d2.kids[n2]
	if flags&exchange != 0 {
		if old == nil {
			return syscall.ENOENT
		}
		d1.kids[n1], d2.kids[n2] = old, c
		return 0
	}
	if old == c {
		return 0
	}
	if c.isDir() && containsDir(c, d2) {
		return syscall.EINVAL
	}
	if old != nil {
		switch {
		case flags&noReplace != 0:
			return syscall.EEXIST
		case old.isDir() && !c.isDir():
			return syscall.EISDIR
		case !old.isDir() && c.isDir():
			return syscall.ENOTDIR
		case old.isDir() && len(old.kids) > 0:
			return syscall.ENOTEMPTY
		}
		m.unlinkName(d2, n2)
	}
	delete(d1.kids, n1)
	d2.kids[n2] = c
	d1.mtime, d2.mtime = time.Now(), time.Now()
	return 0
}

// containsDir reports whether d is a or lies under a in the live view.
func containsDir(a, d *node) bool {
	if a == d {
		return true
	}
	for _, c := range a.kids {
		if c.isDir() && containsDir(c, d) {
			return true
		}
	}
	return false
}
