package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"

	"go.yaml.in/yaml/v3"
)

// maxTechniciansFile bounds console.technicians_file: a few hundred
// technicians of a hundred bytes each.
const maxTechniciansFile = 256 << 10

// checkPrivate refuses a file that holds a secret (the bank's HMAC key, the
// technicians' PIN hashes) when anyone but its owner may read or write it,
// as ssh refuses a private key: the kiosk's group includes the technicians
// on SSH, who must not learn the bank secret or take PIN hashes away to
// guess at. Platforms without unix modes pass.
func checkPrivate(path string, st fs.FileInfo) error {
	perm := st.Mode().Perm()
	if perm&0o077 == 0 || !unixModes {
		return nil
	}
	who := "its group"
	switch {
	case perm&0o070 != 0 && perm&0o007 != 0:
		who = "its group and others"
	case perm&0o007 != 0:
		who = "others"
	}
	what := "use"
	switch r, w := perm&0o044 != 0, perm&0o022 != 0; {
	case r && w:
		what = "read and write"
	case r:
		what = "read"
	case w:
		what = "write"
	}
	return fmt.Errorf("%s has mode %04o: %s can %s it, but it holds a secret only the daemon's user may read; fix it with: chmod 600 %s (owned by the daemon's user: chown tolem:tolem %s)",
		path, perm, who, what, path, path)
}

// readPrivate reads a bounded secret file that passes checkPrivate.
func readPrivate(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().IsRegular() {
		if err := checkPrivate(path, st); err != nil {
			return nil, err
		}
	}
	return readBounded(path, limit)
}

// readTechniciansFile reads console.technicians_file: a YAML list of the
// same entries as console.technicians,
//
//   - id: t01
//     pin_hash: "$2b$10$…"
//
// in a file of mode 0600 owned by the daemon's user.
func readTechniciansFile(path string) ([]Technician, error) {
	data, err := readPrivate(path, maxTechniciansFile)
	if err != nil {
		return nil, err
	}
	var list []Technician
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&list); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s lists no technician; add - {id: …, pin_hash: …} lines (kioskctl pin-hash makes a hash)", path)
		}
		return nil, fmt.Errorf("%s: %v; want a list of - {id: …, pin_hash: …}", path, err)
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("%s lists no technician; add - {id: …, pin_hash: …} lines (kioskctl pin-hash makes a hash)", path)
	}
	return list, nil
}

// Logins are the technicians who may log in at the console: those of
// console.technicians, then those of console.technicians_file, read now.
func (con *Console) Logins() ([]Technician, error) {
	list := slices.Clone(con.Technicians)
	if con.TechniciansFile != "" {
		more, err := readTechniciansFile(con.TechniciansFile)
		if err != nil {
			return nil, fmt.Errorf("config: console.technicians_file: %w", err)
		}
		list = append(list, more...)
	}
	return list, nil
}
