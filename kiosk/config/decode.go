package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"tolem/kiosk"
)

// maxFileSize bounds what Load reads: a config is a few kilobytes, and a
// wrong --config pointing at a disk image must not exhaust the Pi's memory.
const maxFileSize = 1 << 20

// Problem is one thing wrong with a config. Parse, Load and Validate return
// every Problem found, joined with errors.Join.
type Problem struct {
	// File is the path Load read; empty for Parse and Validate.
	File string
	// Line is the line of the offending key in the file; 0 when the key is
	// missing or the Config was not read from a file.
	Line int
	// Key is the key's dotted path ("limits.max_amount",
	// "console.technicians[0].id"); empty for the file as a whole.
	Key string
	// Msg is the readable text, starting with the key.
	Msg string
}

func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString("config")
	if p.File != "" {
		b.WriteString(" " + p.File)
	}
	b.WriteString(": ")
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	b.WriteString(p.Msg)
	return b.String()
}

// problems collects Problems so that a technician sees all of them at once.
type problems []*Problem

// add records a problem with key; the message is prefixed with the key.
func (ps *problems) add(line int, key, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if key != "" {
		msg = key + ": " + msg
	}
	*ps = append(*ps, &Problem{Line: line, Key: key, Msg: msg})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}

// Load reads the config file at path and parses it (see Parse). Problems
// name the file.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("config: %w; name the config file with --config FILE", err)
		}
		return nil, fmt.Errorf("config: %w", err)
	}
	c, ps := parse(data)
	for _, p := range ps {
		p.File = path
	}
	return c, ps.err()
}

func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s is larger than %d bytes; is it the config file?", path, maxFileSize)
	}
	return data, nil
}

// Parse decodes a config strictly over the defaults and validates it. An
// unknown key, a duplicate key or a value of the wrong type is a Problem with
// its line; a value out of range is one too. The Config is returned only when
// there is no problem.
func Parse(data []byte) (*Config, error) {
	c, ps := parse(data)
	return c, ps.err()
}

func parse(data []byte) (*Config, problems) {
	c, ps := decodeAll(data)
	if len(ps) > 0 {
		return nil, ps
	}
	return c, nil
}

// decodeAll is parse that also returns what it decoded when there are
// problems (nil only when the YAML itself could not be read), so that
// --check-config can look at the machine for a config with a wrong value.
func decodeAll(data []byte) (*Config, problems) {
	var d decoder
	d.lines = map[string]int{}
	c := Default()

	root, ps := readDocument(data)
	if len(ps) > 0 {
		return nil, ps
	}
	if root != nil {
		d.value(root, reflect.ValueOf(c).Elem(), "")
	}
	// A value that could not be decoded kept its default or zero; checking
	// it again would report one mistake twice.
	failed := make([]string, 0, len(d.problems))
	for _, p := range d.problems {
		if p.Key != "" {
			failed = append(failed, p.Key)
		}
	}
	for _, p := range c.problems() {
		if !within(p.Key, failed) {
			p.Line = d.lineOf(p.Key)
			d.problems = append(d.problems, p)
		}
	}
	if len(d.problems) > 0 {
		// Top to bottom, as the technician edits the file; missing keys,
		// which have no line, first.
		slices.SortStableFunc(d.problems, func(a, b *Problem) int { return cmp.Compare(a.Line, b.Line) })
		return c, d.problems
	}
	return c, nil
}

// within reports whether key is one of keys or lies below one of them.
func within(key string, keys []string) bool {
	for _, k := range keys {
		if key == k || strings.HasPrefix(key, k+".") || strings.HasPrefix(key, k+"[") {
			return true
		}
	}
	return false
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// readDocument parses data into its single document's root node; nil for an
// empty file.
func readDocument(data []byte) (*yaml.Node, problems) {
	var ps problems
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		line, msg := syntaxProblem(err, data)
		ps.add(line, "", "not valid YAML: %s", msg)
		return nil, ps
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		line, msg := syntaxProblem(err, data)
		ps.add(line, "", "not valid YAML: %s", msg)
	default:
		ps.add(next.Line, "", "a second YAML document starts here (after ---); keep every key in one document")
	}
	if len(doc.Content) == 0 {
		return nil, ps
	}
	return doc.Content[0], ps
}

// syntaxProblem turns yaml's "yaml: line 3: …" into a line and a message.
func syntaxProblem(err error, data []byte) (line int, msg string) {
	msg = err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	if strings.Contains(msg, "cannot start any token") && lineHasTab(data, line) {
		msg += " (YAML indents with spaces, not tabs)"
	}
	return line, msg
}

func lineHasTab(data []byte, line int) bool {
	lines := bytes.Split(data, []byte("\n"))
	if line < 1 || line > len(lines) {
		return bytes.ContainsRune(data, '\t')
	}
	return bytes.ContainsRune(lines[line-1], '\t')
}

// decoder walks the YAML tree beside the Config's type, so that every
// problem names the key's path; yaml's own strict mode (KnownFields) names
// only the Go type, which a technician cannot act on.
type decoder struct {
	problems
	// lines maps every key path seen to its line, to place the Problems of
	// Validate in the file.
	lines map[string]int
}

// lineOf is the line of key, or of its nearest ancestor in the file.
func (d *decoder) lineOf(key string) int {
	for key != "" {
		if l, ok := d.lines[key]; ok {
			return l
		}
		i := strings.LastIndexAny(key, ".[")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	moneyType    = reflect.TypeOf(kiosk.Money(0))
	consolePtr   = reflect.TypeOf((*Console)(nil))
)

// value decodes n into v. A null value (`key:` or `key: ~`) keeps the default.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	n = resolveAlias(n)
	if n == nil || n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	t := v.Type()
	switch {
	case t == durationType:
		d.duration(n, v, path)
	case t.Kind() == reflect.Struct:
		d.mapping(n, v, path)
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			if t == consolePtr {
				v.Set(reflect.ValueOf(DefaultConsole()))
			} else {
				v.Set(reflect.New(t.Elem()))
			}
		}
		d.value(n, v.Elem(), path)
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.add(n.Line, path, "got %s, want %s", describeNode(n), describeType(t))
			return
		}
		s := reflect.MakeSlice(t, len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			d.value(item, s.Index(i), p)
		}
		v.Set(s)
	case t.Kind() == reflect.Map:
		d.dict(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// mapping decodes a YAML mapping into the struct v, refusing unknown and
// repeated keys.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		if path == "" {
			d.add(n.Line, "", "got %s, want a mapping of keys (%s)", describeNode(n), strings.Join(keysOf(t), ", "))
		} else {
			d.add(n.Line, path, "got %s, want %s", describeNode(n), describeType(t))
		}
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolveAlias(n.Content[i]), n.Content[i+1]
		name, ok := d.key(k, path, seen)
		if !ok {
			continue
		}
		full := joinPath(path, name)
		idx, found := fieldIndex(t, name)
		if !found {
			d.add(k.Line, "", "unknown key %q (%s%s)", full, allowedIn(t, path), suggest(t, name))
			continue
		}
		d.lines[full] = k.Line
		d.value(val, v.Field(idx), full)
	}
}

// dict decodes a YAML mapping into the Go map v, replacing the default map
// rather than merging into it: a file that lists currencies means that list.
func (d *decoder) dict(n *yaml.Node, v reflect.Value, path string) {
	t := v.Type()
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, path, "got %s, want %s", describeNode(n), describeType(t))
		return
	}
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := resolveAlias(n.Content[i]), n.Content[i+1]
		name, ok := d.key(k, path, seen)
		if !ok {
			continue
		}
		full := joinPath(path, name)
		d.lines[full] = k.Line
		e := reflect.New(t.Elem()).Elem()
		d.value(val, e, full)
		m.SetMapIndex(reflect.ValueOf(name).Convert(t.Key()), e)
	}
	v.Set(m)
}

// key checks a mapping key: a plain scalar, not a merge key, seen once.
func (d *decoder) key(k *yaml.Node, path string, seen map[string]int) (string, bool) {
	if k == nil || k.Kind != yaml.ScalarNode {
		line := 0
		if k != nil {
			line = k.Line
		}
		d.add(line, path, "got %s as a key; keys are plain names", describeNode(k))
		return "", false
	}
	if k.ShortTag() == "!!merge" {
		d.add(k.Line, path, "merge keys (<<) are not supported; write the keys out")
		return "", false
	}
	if first, dup := seen[k.Value]; dup {
		d.add(k.Line, joinPath(path, k.Value), "appears twice (first at line %d); keep one", first)
		return "", false
	}
	seen[k.Value] = k.Line
	return k.Value, true
}

func (d *decoder) duration(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		if dur, err := time.ParseDuration(n.Value); err == nil {
			v.SetInt(int64(dur))
			return
		}
	}
	hint := ""
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int" {
		hint = fmt.Sprintf(" (a number needs a unit: %q)", n.Value+"s")
	}
	d.add(n.Line, path, "got %s, want %s%s", describeNode(n), describeType(v.Type()), hint)
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.add(n.Line, path, "got %s, want %s", describeNode(n), describeType(v.Type()))
		return
	}
	// yaml truncates 1.5 or 2e7 into an int field; money must be exact.
	isInt := v.Kind() == reflect.Int || v.Kind() == reflect.Int64
	fresh := reflect.New(v.Type())
	if isInt && n.ShortTag() != "!!int" || n.Decode(fresh.Interface()) != nil {
		d.add(n.Line, path, "got %s, want %s", describeNode(n), describeType(v.Type()))
		return
	}
	v.Set(fresh.Elem())
}

// resolveAlias follows *anchor references to the node they name.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// keyName is the yaml key of a struct field.
func keyName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func keysOf(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if name := keyName(t.Field(i)); name != "" {
			keys = append(keys, name)
		}
	}
	return keys
}

func fieldIndex(t reflect.Type, name string) (int, bool) {
	for i := range t.NumField() {
		if keyName(t.Field(i)) == name {
			return i, true
		}
	}
	return 0, false
}

func allowedIn(t reflect.Type, path string) string {
	where := "at top level"
	if path != "" {
		where = "in " + path
	}
	return "allowed " + where + ": " + strings.Join(keysOf(t), ", ")
}

// suggest names the key the technician probably meant: the same name in
// another section, else a near spelling in this one.
func suggest(t reflect.Type, name string) string {
	var elsewhere []string
	findKey(reflect.TypeOf(Config{}), name, "", &elsewhere)
	if len(elsewhere) > 0 {
		return "; did you mean " + strings.Join(elsewhere, " or ") + "?"
	}
	limit := 1
	if len(name) > 5 {
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, k := range keysOf(t) {
		if dist := editDistance(name, k); dist < bestDist {
			best, bestDist = k, dist
		}
	}
	if best == "" && len(name) >= 3 {
		for _, k := range keysOf(t) {
			if strings.HasPrefix(k, name) || strings.HasPrefix(name, k) {
				best = k
				break
			}
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return ""
}

// findKey appends the path of every key called name in t.
func findKey(t reflect.Type, name, path string, found *[]string) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := range t.NumField() {
		full := joinPath(path, keyName(t.Field(i)))
		if keyName(t.Field(i)) == name {
			*found = append(*found, full)
		}
		child := full
		if t.Field(i).Type.Kind() == reflect.Slice {
			child += "[]"
		}
		findKey(t.Field(i).Type, name, child, found)
	}
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describeNode says what the file holds, for "got …, want …".
func describeNode(n *yaml.Node) string {
	n = resolveAlias(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	v := n.Value
	if r := []rune(v); len(r) > 40 {
		v = string(r[:40]) + "…"
	}
	return strconv.Quote(v)
}

// describeType says what a key takes, for "got …, want …".
func describeType(t reflect.Type) string {
	switch {
	case t == durationType:
		return `a duration such as "90s", "5m" or "1h30m"`
	case t == moneyType:
		return "a whole number of tiyn (1 ₸ = 100 tiyn)"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list of " + plural(describeType(t.Elem()))
	case reflect.Map:
		return "a mapping of names to " + plural(describeType(t.Elem()))
	case reflect.Struct:
		return "a mapping of keys (" + strings.Join(keysOf(t), ", ") + ")"
	case reflect.Pointer:
		return describeType(t.Elem())
	}
	return t.String()
}

// plural turns "a whole number" into "whole numbers" for list descriptions.
func plural(s string) string {
	switch {
	case strings.HasPrefix(s, "a mapping of keys"):
		return "mappings of keys" + strings.TrimPrefix(s, "a mapping of keys")
	case strings.HasPrefix(s, "a "):
		return strings.TrimPrefix(s, "a ") + "s"
	}
	return s
}
